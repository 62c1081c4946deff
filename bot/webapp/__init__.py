"""The trader's dashboard: a Telegram Mini App served by the bot (``auth.py`` pure initData
signing and checking, ``api.py`` the JSON API over the services, ``server.py`` the aiohttp server
and its static page)."""
