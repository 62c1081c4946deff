"""Durable simulator state: a snapshot plus an fsynced append-only journal of changes.

A paper account must survive ``kill -9`` at any moment: once an answer (an HTTP response or a
private WebSocket frame) has left the simulator, the change it announces is on disk. Writing
the whole engine on every order costs time that grows with the account's history, so each
change is one JSON line appended to ``<state>.wal`` and ``fdatasync``-ed; the journal is folded
into the snapshot (``<state>``, replaced atomically) when it grows past a few snapshots' size.

Requests share fsyncs (group commit, :class:`~bot.sim.commit.GroupCommit`): each request makes
its change, then waits; one save — one append and one ``fdatasync``, run by a writer thread
while the event loop serves the next requests — covers every request waiting at that moment and
then releases all their answers together. Under load the cost of a sync is spread over the
whole batch and never paid on the event loop; an answer still never leaves before its change
is durable. Records are encoded with orjson (compact JSON that ``json`` reads back).

Journal records are idempotent (absolute values, rows placed at absolute offsets) and carry
the snapshot's generation, so a crash between writing a new snapshot and emptying the journal
never replays stale records over newer state.

With ``markets`` (the simulator's own random-walk market, as in paper mode on ``EXCHANGE=sim``)
the market is saved too (:mod:`bot.sim.market_state`): whole in each snapshot, and as a journal
record every :data:`MARKET_SAVE_SECONDS` and at once after a control-API move; closing writes a
snapshot. A restart then continues the market where it stopped — at most a few seconds of walk
are lost to a ``kill -9``, never a jump back to the seed's prices.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import orjson

from bot.sim.commit import Commit, GroupCommit, Work
from bot.sim.engine import Engine

__all__ = ["Commit", "GroupCommit", "StateStore", "write_durably"]

MIN_COMPACT_BYTES = 1 << 20
#: The journal is folded when it outgrows this many snapshots. Folding writes the whole
#: engine (every account), so with thousands of accounts a fold per snapshot-size of journal
#: would cost each order about as much as its own record; four keeps it a small share while
#: a restart replays at most four snapshots' worth of records.
COMPACT_RATIO = 4
MARKET_SAVE_SECONDS = 5.0


def write_durably(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` so that either the old or the new file survives a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename or a file creation in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Makes a file descriptor's written data durable (``fdatasync`` where the OS has it).
Syncer = Callable[[int], None]
DATA_SYNC: Syncer = getattr(os, "fdatasync", os.fsync)


class StateStore:
    """Owns ``path`` (the snapshot) and ``path.wal`` (the journal) for one engine.

    :meth:`prepare` (on the event loop) takes what changed and encodes it; the work it returns
    (the disk part: append + ``fdatasync``, or a snapshot) may run on another thread, one at
    a time and in the order prepared (:class:`~bot.sim.commit.GroupCommit` does both).
    :meth:`save` does the two at once.
    """

    def __init__(self, path: Path, *, markets: bool = False, syncer: Syncer = DATA_SYNC) -> None:
        self.path = path
        self.syncer = syncer
        self.markets = markets
        self._engine: Engine | None = None
        self._market_due = 0.0
        self.wal_path = path.with_name(path.name + ".wal")
        self.generation = 0
        self._wal: IO[bytes] | None = None
        self._wal_bytes = 0  # prepared (and, once its work ran, written) journal bytes
        self._snapshot_bytes = 0
        #: A write failed: what it held is only in memory, so the next save is a snapshot.
        self._broken = False

    def load(self, engine: Engine) -> None:
        """Restore the engine from the snapshot and the journal, then fold them together."""
        for tmp in self.path.parent.glob(f"{glob.escape(self.path.name)}*.tmp"):
            tmp.unlink(missing_ok=True)  # a snapshot write that a crash cut short
        if self.path.exists():
            data = json.loads(self.path.read_bytes())
            if "engine" in data:  # {"generation", "engine"}; older files are a bare dump
                self.generation = int(data.get("generation", 0))
                data = data["engine"]
            engine.load_data(data)
            if self.wal_path.exists():
                for record in _records(self.wal_path.read_bytes()):
                    if record.get("generation") != self.generation:
                        continue
                    if "changes" in record:
                        engine.apply_changes(record["changes"])
                    if "markets" in record and self.markets:
                        engine.apply_markets(record["markets"])
        self.compact(engine)

    def save(self, engine: Engine) -> None:
        """Persist whatever changed since the last save; returns once it is on disk."""
        work = self.prepare(engine)
        if work is not None:
            work()

    def prepare(self, engine: Engine) -> Work | None:
        """Take and encode what changed since the last call; ``None``: nothing to write.

        Only the changed accounts' rows are encoded (a journal record), never the others; the
        whole engine only when the journal has outgrown :data:`COMPACT_RATIO` snapshots.
        """
        if self._broken or engine.needs_snapshot() or self._wal is None:
            return self._prepare_compact(engine)
        records: list[dict[str, Any]] = []
        changes = engine.take_changes()
        if changes is not None:
            records.append({"generation": self.generation, "changes": changes})
        if self.markets and (engine.markets_moved() or time.monotonic() >= self._market_due):
            records.append({"generation": self.generation, "markets": engine.take_market_changes()})
            self._market_due = time.monotonic() + MARKET_SAVE_SECONDS
        if not records:
            return None
        data = b"".join(orjson.dumps(r, option=orjson.OPT_NON_STR_KEYS) + b"\n" for r in records)
        if self._wal_bytes + len(data) > max(
            MIN_COMPACT_BYTES, COMPACT_RATIO * self._snapshot_bytes
        ):
            return self._prepare_compact(engine)  # the snapshot holds these changes too
        self._wal_bytes += len(data)
        return lambda: self._append(data)

    def _append(self, data: bytes) -> None:
        assert self._wal is not None
        try:
            self._wal.write(data)
            self._sync(self._wal)
        except BaseException:
            self._broken = True
            raise

    def compact(self, engine: Engine) -> None:
        """Write a full snapshot (new generation) and start an empty journal."""
        self._prepare_compact(engine)()

    def _prepare_compact(self, engine: Engine) -> Work:
        engine.take_changes()  # everything is in the snapshot
        self._engine = engine
        self.generation += 1
        self._market_due = time.monotonic() + MARKET_SAVE_SECONDS
        text = orjson.dumps(
            {"generation": self.generation, "engine": engine.dump_data(markets=self.markets)},
            option=orjson.OPT_NON_STR_KEYS,
        )
        self._snapshot_bytes = len(text)
        self._wal_bytes = 0
        self._broken = False
        return lambda: self._write_snapshot(text)

    def _write_snapshot(self, text: bytes) -> None:
        try:
            write_durably(self.path, text)
            if self._wal is not None:
                self._wal.close()
            existed = self.wal_path.exists()
            self._wal = open(self.wal_path, "wb")  # noqa: SIM115 - held open for appends
            self._sync(self._wal)
            if not existed:
                fsync_dir(self.wal_path.parent)
        except BaseException:
            self._broken = True
            raise

    def _sync(self, fh: IO[bytes]) -> None:
        fh.flush()
        self.syncer(fh.fileno())

    def close(self) -> None:
        """Fold everything, the market's last moves and trade tape too (when the market is
        kept), into a snapshot, and close the journal."""
        if self._wal is not None:
            if self.markets and self._engine is not None:
                self.compact(self._engine)
            self._wal.close()
            self._wal = None


def _records(raw: bytes) -> list[dict[str, Any]]:
    """Complete journal lines; a torn last line (crash mid-append) was never acknowledged."""
    out = []
    for line in raw.split(b"\n"):
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out
