"""The local chat on disk: one SQLite file (``DATA_DIR/localchat.db``) beside the bot's database.

:class:`ChatLog` keeps what a restart must not lose: every message (id, chat, sender, text and
entities, keyboard, edits), the files they show, the groups, the updates the bot has not yet
confirmed, the commands menu and the id counters, so history survives and new ids continue above
the old ones. :class:`~bot.localchat.store.ChatStore` stays the authority in memory and writes
each change through before it answers.

Each change is one small transaction in WAL mode with ``synchronous=NORMAL``: no fsync, so a
write costs tens of microseconds and is done inline (no thread hop that could reorder writes);
a committed write is in the OS's cache the moment the call returns, so it survives the bot
process being stopped or killed — only a power cut may take the last moments with it, and
then the ids still continue from what is on disk. The store caps the history (oldest first out,
with the files only they showed), so neither memory nor the file grows forever.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec

from bot.localchat.messages import StoredFile, StoredMessage

P = ParamSpec("P")

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (message_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    file_id TEXT PRIMARY KEY, unique_id TEXT NOT NULL, mime TEXT NOT NULL, name TEXT NOT NULL,
    width INTEGER NOT NULL, height INTEGER NOT NULL, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (chat_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS updates (update_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class Saved:
    """Everything :meth:`ChatLog.load` read back."""

    messages: dict[int, StoredMessage] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    commands: dict[str, list[dict[str, str]]] = field(default_factory=dict)


def _durable(
    method: Callable[Concatenate[ChatLog, P], None],
) -> Callable[Concatenate[ChatLog, P], None]:
    """A write that happens only when the log has a file (a chat without a path keeps none)."""

    def write(log: ChatLog, /, *args: P.args, **kwargs: P.kwargs) -> None:
        if log._db is not None:
            method(log, *args, **kwargs)

    write.__doc__ = method.__doc__
    return write


class ChatLog:
    """Write-through persistence for one chat; with no ``path`` every write is a no-op."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def load(self) -> Saved:
        """The saved chat: messages in id order, their files, groups, pending updates, ids."""
        out = Saved()
        if self._db is None:
            return out
        for file_id, unique, mime, name, width, height, size in self._conn.execute(
            "SELECT file_id, unique_id, mime, name, width, height, length(data) FROM files"
        ):
            out.files[file_id] = StoredFile(file_id, unique, b"", mime, name, width, height)
            self._on_disk(out.files[file_id], int(size))
        for (body,) in self._conn.execute("SELECT body FROM messages ORDER BY message_id"):
            message = message_load(json.loads(body), out.files)
            out.messages[message.message_id] = message
        for chat_id, body in self._conn.execute("SELECT chat_id, body FROM groups"):
            out.groups[int(chat_id)] = json.loads(body)
        out.updates = [
            json.loads(body)
            for (body,) in self._conn.execute("SELECT body FROM updates ORDER BY update_id")
        ]
        for key, value in self._conn.execute("SELECT key, value FROM meta"):
            if key.startswith("next:"):
                out.counters[key.removeprefix("next:")] = int(value)
            elif key == "commands":
                out.commands = json.loads(value)
        return out

    # ------------------------------------------------------------------ changes

    @_durable
    def message(self, message: StoredMessage, *, new: bool = False) -> None:
        """Save ``message``: a new one (``new``: its id is now taken) or one just edited."""
        fresh = [f for f in (message.photo, message.document) if f and f.reader is None]
        with self._tx():
            for f in fresh:
                self._file(f)
            self._conn.execute(
                "INSERT OR REPLACE INTO messages (message_id, body) VALUES (?, ?)",
                (message.message_id, json.dumps(message_dump(message), separators=(",", ":"))),
            )
            if new:
                self._counter("message", message.message_id + 1)
        for f in fresh:
            self._on_disk(f, len(f.data))

    @_durable
    def deleted(self, message_id: int) -> None:
        with self._tx():
            self._conn.execute("DELETE FROM messages WHERE message_id = ?", (message_id,))

    @_durable
    def group(self, chat: dict[str, Any]) -> None:
        with self._tx():
            self._conn.execute(
                "INSERT OR REPLACE INTO groups (chat_id, body) VALUES (?, ?)",
                (int(chat["id"]), json.dumps(chat)),
            )

    @_durable
    def update(self, update: dict[str, Any]) -> None:
        """A new pending update (and the update id counter it used)."""
        with self._tx():
            self._conn.execute(
                "INSERT OR REPLACE INTO updates (update_id, body) VALUES (?, ?)",
                (int(update["update_id"]), json.dumps(update, separators=(",", ":"))),
            )
            self._counter("update", int(update["update_id"]) + 1)

    @_durable
    def confirmed(self, kept: Iterable[int]) -> None:
        """The bot confirmed every update but ``kept`` (getUpdates' offset moved on)."""
        oldest = min(kept, default=None)
        with self._tx():
            if oldest is None:
                self._conn.execute("DELETE FROM updates")
            else:
                self._conn.execute("DELETE FROM updates WHERE update_id < ?", (oldest,))

    @_durable
    def counter(self, name: str, next_value: int) -> None:
        with self._tx():
            self._counter(name, next_value)

    @_durable
    def commands(self, commands: dict[str, list[dict[str, str]]]) -> None:
        with self._tx():
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('commands', ?)",
                (json.dumps(commands),),
            )

    # ------------------------------------------------------------------ internals

    @property
    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None, "the chat log is closed"
        return self._db

    def _tx(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN")
        return self._conn

    def _counter(self, name: str, next_value: int) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (f"next:{name}", str(next_value)),
        )

    def _on_disk(self, f: StoredFile, size: int) -> None:
        """From now on ``f``'s bytes are read from the file when asked for, not held."""
        file_id = f.file_id
        f.data, f.size = b"", size
        f.reader = lambda: self._read(file_id)

    def _read(self, file_id: str) -> bytes:
        row = self._conn.execute("SELECT data FROM files WHERE file_id = ?", (file_id,)).fetchone()
        return bytes(row[0]) if row is not None else b""

    def _file(self, f: StoredFile) -> None:
        self._conn.execute(
            "INSERT OR IGNORE INTO files (file_id, unique_id, mime, name, width, height, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (f.file_id, f.file_unique_id, f.mime_type, f.file_name, f.width, f.height, f.data),
        )

    @_durable
    def prune(self, before: int) -> None:
        """Forget the messages older than id ``before``, and the files only they showed."""
        with self._tx():
            self._conn.execute("DELETE FROM messages WHERE message_id < ?", (before,))
            used = {
                file_id
                for (body,) in self._conn.execute("SELECT body FROM messages")
                for file_id in _file_ids(json.loads(body))
            }
            for (file_id,) in self._conn.execute("SELECT file_id FROM files").fetchall():
                if file_id not in used:
                    self._conn.execute("DELETE FROM files WHERE file_id = ?", (file_id,))


def message_dump(m: StoredMessage) -> dict[str, Any]:
    """A message as JSON-ready data; files by id (their bytes are rows of their own)."""
    return {
        "message_id": m.message_id,
        "chat": m.chat,
        "sender": m.sender,
        "date": m.date,
        "text": m.text,
        "entities": m.entities,
        "caption": m.caption,
        "photo": m.photo.file_id if m.photo is not None else None,
        "document": m.document.file_id if m.document is not None else None,
        "reply_markup": m.reply_markup,
        "edit_date": m.edit_date,
        "source": m.source,
    }


def message_load(d: dict[str, Any], files: dict[str, StoredFile]) -> StoredMessage:
    return StoredMessage(
        message_id=int(d["message_id"]),
        chat=d["chat"],
        sender=d["sender"],
        date=int(d["date"]),
        text=d.get("text"),
        entities=list(d.get("entities") or []),
        caption=d.get("caption"),
        photo=files.get(d["photo"]) if d.get("photo") else None,
        document=files.get(d["document"]) if d.get("document") else None,
        reply_markup=d.get("reply_markup"),
        edit_date=d.get("edit_date"),
        source=str(d.get("source") or ""),
    )


def _file_ids(d: dict[str, Any]) -> list[str]:
    return [str(d[k]) for k in ("photo", "document") if d.get(k)]
