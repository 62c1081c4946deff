"""Keyboards rebuilt from stored buttons (a message whose position or order is gone)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup


def markup(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    """``(label, callback data)`` rows as a keyboard; ``None`` (no keyboard) when empty."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def buttons(kb: InlineKeyboardMarkup | None) -> list[tuple[int, str, str]]:
    """``(row, label, callback data)`` of every callback button of ``kb``."""
    if kb is None:
        return []
    return [
        (i, b.text, str(b.callback_data))
        for i, row in enumerate(kb.inline_keyboard)
        for b in row
        if b.callback_data is not None
    ]
