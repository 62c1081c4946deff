"""The bot as several processes on PostgreSQL: web, worker, ingest (issue 22)."""
