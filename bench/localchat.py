"""The local chat's write-through cost: Bot API calls on a durable store against one in memory.

Each round sends a message with a keyboard and edits it (what a confirmation costs), straight on
the :class:`~bot.localchat.store.ChatStore` so only the store is measured; then the time to
reopen the file with every message written. Prints medians and the 99th percentile in µs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bot.localchat.store import ChatStore

ROUNDS = 3000
KEYBOARD = {"inline_keyboard": [[{"text": "✅ Confirm", "callback_data": "tc:token"}]]}


async def _rounds(store: ChatStore) -> list[float]:
    out = []
    for i in range(ROUNDS):
        started = time.perf_counter()
        sent = await store.api_sendMessage(
            {
                "chat_id": 100000001,
                "text": f"<b>Buy</b> 0.01 BTC · preview {i}",
                "parse_mode": "HTML",
                "reply_markup": KEYBOARD,
            }
        )
        await store.api_editMessageText(
            {"chat_id": 100000001, "message_id": sent["message_id"], "text": f"✅ filled {i}"}
        )
        out.append((time.perf_counter() - started) * 1e6)
    return sorted(out)


def _line(name: str, us: list[float]) -> str:
    p99 = us[int(len(us) * 0.99)]
    return f"{name:<34} p50 {statistics.median(us):8.0f} µs   p99 {p99:8.0f} µs"


async def main() -> None:
    memory = await _rounds(ChatStore(1, "bot", "bot"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "localchat.db"
        store = ChatStore(1, "bot", "bot", path)
        durable = await _rounds(store)
        store.close()
        started = time.perf_counter()
        ChatStore(1, "bot", "bot", path).close()
        reopen_ms = (time.perf_counter() - started) * 1000
    print(_line("send + edit, in memory (baseline)", memory))
    print(_line("send + edit, durable (localchat.db)", durable))
    print(f"reopen with {ROUNDS} messages: {reopen_ms:.0f} ms")
