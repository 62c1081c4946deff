"""What the bot says about keys: the answer to a secret pasted into the chat."""

from __future__ import annotations

from bot.render.common import esc


def secret_removed(kind: str, deleted: bool) -> str:
    """The one message after a message that looked like ``kind`` of secret (never the secret
    itself): what happened, why, and what to do about the key."""
    first = (
        f"🔐 I deleted your message: it looked like {esc(kind)}."
        if deleted
        else f"🔐 Your message looked like {esc(kind)}, and I could not delete it here "
        "(I need the right to delete messages): please delete it yourself."
    )
    return (
        f"{first}\n"
        "Keys never go in a chat: whoever reads it, or its history, could trade your account.\n"
        "If it was a real key, treat it as exposed: revoke it on the exchange and make a new "
        "one (trade-only, with an IP allow-list)."
    )
