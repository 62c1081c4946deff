"""Orders: the user's intent, its priced preview, the single-use confirmation and the one
journaled order path every request takes (no Telegram types)."""
