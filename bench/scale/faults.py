"""Faults and process measurements of the scale bench.

Kills are SIGKILL, at moments found from outside the bot: a web process right after the journal
row of a ✅ it is handling appears (the order is in flight), the ingest process whose database
connection holds an advisory lock (the leader), a worker holding a desk lock (mid-cycle), the
process holding the most private-stream leases (``stream_leases`` → ``processes.pid``). Which
process owns a database connection is read from ``pg_stat_activity.client_port`` and the
kernel's socket table (``/proc/net/tcp`` and ``/proc/<pid>/fd``). A supervisor's restart is
played too: each killed process of the set is started again at once.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.scale.checks import Figures
from bench.scale.load import Player, Webhooks
from bench.scale.procs import Proc
from bench.scale.run import SYMBOL, Stack

#: Seconds a takeover may take before the fault counts as failed.
TAKEOVER_TIMEOUT = 30.0
#: The namespace of the desk locks (bot/processes/coord.py ``DeskLocks``: classid 22).
DESK_LOCK_CLASS = 22
#: Seconds of each updates/s measurement.
THROUGHPUT_SECONDS = 8.0
#: Journal rows whose request may be in flight (bot/storage/trading_rows.py ``SENDING``).
SENDING = "SELECT count(*) FROM order_journal WHERE status = 'sending'"


def _socket_inodes(port_of: set[int]) -> dict[int, int]:
    """inode → local port, for the loopback TCP sockets bound to one of ``port_of``."""
    out: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            parts = line.split()
            port = int(parts[1].rsplit(":", 1)[1], 16)
            if port in port_of:
                out[int(parts[9])] = port
    return out


def owners_of_ports(procs: list[Proc], ports: set[int]) -> dict[int, Proc]:
    """Which of ``procs`` holds a socket on each local port in ``ports``."""
    inodes = _socket_inodes(ports)
    found: dict[int, Proc] = {}
    for p in procs:
        if not p.alive:
            continue
        try:
            fds = os.listdir(f"/proc/{p.pid}/fd")
        except FileNotFoundError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{p.pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                port = inodes.get(int(target[8:-1]))
                if port is not None:
                    found[port] = p
    return found


async def _lane(player: Player, users: list[int], first: int, t0: float) -> int:
    """``/price`` from every 16th user from ``first`` for THROUGHPUT_SECONDS; answers counted."""
    done, k = 0, first
    while time.monotonic() - t0 < THROUGHPUT_SECONDS:
        if await player.say(users[k % len(users)], f"/price {SYMBOL}", "price") is not None:
            done += 1
        k += 16
    return done


@dataclass
class Faults:
    stack: Stack
    hooks: Webhooks
    player: Player
    figures: Figures
    enabled: bool = True
    _tap_fault: asyncio.Future[tuple[int, int]] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    # ------------------------------------------------------------------ measurements

    async def watch(self) -> None:
        """Every second: fail loudly if a process died on its own; sample RSS."""
        assert self.stack.procs is not None
        while True:
            self.stack.procs.check()
            self.stack.procs.sample_rss()
            for p in self.stack.procs.procs:
                self.figures.rss[p.name] = p.rss_peak
            await asyncio.sleep(1.0)

    async def throughput(self, figures: Figures) -> None:
        """Updates/s through one web process, then through two (``/price``, 16 lanes).

        Every answer is a message, so with Telegram's 30 a second for the whole bot (which the
        set keeps, replies included) one process already meets that ceiling and a second could
        not show what it adds. The measure is of the processes: two web processes started for
        it with the limit a bot with paid broadcasts has (``TELEGRAM_MESSAGES_PER_SECOND=1000``),
        stopped before the play, whose messages are the ones checked against Telegram's limits.
        """
        assert self.stack.seeded is not None
        users = self.stack.seeded.users
        lifted = {"TELEGRAM_MESSAGES_PER_SECOND": "1000"}
        procs = [await self.stack.start_web(f"tp-{i}", lifted) for i in (1, 2)]
        urls = [u for u, p in self.stack.webhooks.items() if p in procs]
        try:
            for n in (1, 2):
                hooks = Webhooks(urls[:n], self.hooks.secret, self.hooks.client)
                player = Player(self.player.api, hooks)
                player._ids = self.player._ids  # one update_id sequence per run
                t0 = time.monotonic()
                done = await asyncio.gather(*(_lane(player, users, i, t0) for i in range(16)))
                figures.ups[n] = sum(done) / (time.monotonic() - t0)
        finally:
            for p in procs:
                p.killed = True  # stopped on purpose: not a process that died on its own
                await p.stop()
            for u in urls:
                del self.stack.webhooks[u]

    # ------------------------------------------------------------------ faults

    async def run(self, seconds: float) -> None:
        """The faults, spread over the play: web (order in flight), then (with the process set)
        the ingest leader, a worker mid-cycle and a private-stream holder."""
        if not self.enabled:
            return
        await asyncio.sleep(seconds * 0.15)
        await self._kill_web()
        if not self.stack.set_mode:
            return
        await asyncio.sleep(seconds * 0.1)
        await self._kill_ingest_leader()
        await asyncio.sleep(seconds * 0.1)
        await self._kill_worker()
        await asyncio.sleep(seconds * 0.1)
        await self._kill_stream_holder()

    def _on_tap(self, update_id: int, user: int) -> None:
        if self._tap_fault is not None and not self._tap_fault.done():
            url = next(iter(self.stack.webhooks))
            self.hooks.pinned[update_id] = url
            self._tap_fault.set_result((update_id, user))

    async def _kill_web(self) -> None:
        """The next ✅ goes to the first web process; it is killed as soon as the order's
        journal row exists; the update is delivered again (to a survivor, or to the restarted
        single process) and must be answered, the order once."""
        assert self.stack.api is not None
        caught: tuple[int, int] | None = None
        for _ in range(5):  # a ✅ answered before its journal row appeared: catch the next
            self._tap_fault = asyncio.get_running_loop().create_future()
            self.player.before_tap = self._on_tap
            try:
                update_id, user = await asyncio.wait_for(self._tap_fault, TAKEOVER_TIMEOUT * 2)
            except TimeoutError:
                break
            finally:
                self.player.before_tap = None
            if await self._in_flight(update_id, user):
                caught = (update_id, user)
                break
        if caught is None:
            self.figures.takeovers.append(("web (order in flight)", "no ✅ caught in flight"))
            return
        update_id, user = caught
        url = next(iter(self.stack.webhooks))
        victim = self.stack.webhooks[url]
        killed = victim.kill()
        # Watched from the kill on, while the ✅'s answer is awaited (not after it: the two
        # share one deadline).
        settling = asyncio.create_task(self._settled(user, killed))
        if self.stack.set_mode:
            self.hooks.dead.add(url)
            await self._restart(victim)
        else:
            port = int(url.rsplit(":", 1)[1].strip("/"))
            extra = {"WEBHOOK_URL": url, "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port)}
            await victim.proc.wait()
            p = await self.stack.start_role("bot-restarted", None, extra)
            await self.stack.wait_listening(p, port)
            self.stack.webhooks[url] = p
        answered = await self._answered(update_id, killed)
        where = "restarted process" if not self.stack.set_mode else "another web process"
        settled = await settling
        if answered is not None:
            outcome = f"✅ answered {answered:.1f} s after the kill by the {where}"
        else:
            outcome = "✅ not answered"
        outcome += f"; its journal row settled {settled} after the kill"
        if settled.startswith("not within"):
            self.figures.problems.append(f"a killed ✅'s journal row still in flight: {outcome}")

        self.figures.takeovers.append(("web (order in flight)", outcome))

    async def _answered(self, update_id: int, since: float) -> float | None:
        query = f"q{update_id}"
        assert self.stack.api is not None
        while time.monotonic() - since < TAKEOVER_TIMEOUT:
            if self.stack.api.answers.get(query):
                return self.stack.api.answers[query][0].at - since
            await asyncio.sleep(0.05)
        return None

    async def _in_flight(self, update_id: int, user: int) -> bool:
        """Poll until ``user``'s journal row exists (True) or the ✅ was answered (False)."""
        assert self.stack.api is not None
        t0 = time.monotonic()
        async with self.stack.sql() as conn:
            while time.monotonic() - t0 < TAKEOVER_TIMEOUT:
                if await conn.fetchval(
                    "SELECT count(*) FROM order_journal WHERE user_id = $1", user
                ):
                    return True
                if self.stack.api.answers.get(f"q{update_id}"):
                    return False
                await asyncio.sleep(0.005)
        return False

    async def _settled(self, user: int, since: float) -> str:
        """How long until ``user``'s journal rows were no longer in flight (recovery)."""
        async with self.stack.sql() as conn:
            while time.monotonic() - since < TAKEOVER_TIMEOUT:
                left = await conn.fetchval(
                    "SELECT count(*) FROM order_journal WHERE user_id = $1 AND status = 'sending'",
                    user,
                )
                if not left:
                    return f"{time.monotonic() - since:.1f} s"
                await asyncio.sleep(0.1)
        return f"not within {TAKEOVER_TIMEOUT:.0f} s"

    async def _restart(self, victim: Proc) -> None:
        """A supervisor's restart of a killed process of the set (after the kill is measured)."""
        name = f"{victim.name}r"
        role = victim.argv[3] if len(victim.argv) > 3 else "web"
        if role == "web":
            await self.stack.start_web(name)
            self.hooks.urls = list(self.stack.webhooks)
        else:
            await self.stack.start_role(name, role)

    async def _advisory_holders(self, prefix: str, classid: int | None = None) -> list[Proc]:
        assert self.stack.procs is not None
        sql = (
            "SELECT a.client_port, l.classid FROM pg_locks l JOIN pg_stat_activity a "
            "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
        )
        async with self.stack.sql() as conn:
            rows = await conn.fetch(sql)
        ports = {int(r["client_port"]) for r in rows if classid is None or r["classid"] == classid}
        owners = owners_of_ports(self.stack.procs.named(prefix), ports)
        return list({p.pid: p for p in owners.values()}.values())

    async def _kill_ingest_leader(self) -> None:
        label = "ingest leader"
        leaders = await self._wait(lambda: self._advisory_holders("ingest"))
        if not leaders:
            self.figures.takeovers.append((label, "no ingest process holds the leader lock"))
            return
        victim = leaders[0]
        killed = victim.kill()
        await self._restart(victim)

        async def other() -> list[Proc]:
            return [p for p in await self._advisory_holders("ingest") if p is not victim]

        took = await self._wait(other)
        self.figures.takeovers.append(
            (
                label,
                f"standby led {time.monotonic() - killed:.1f} s after" if took else "no takeover",
            )
        )

    async def _kill_worker(self) -> None:
        label = "worker mid-cycle"
        busy = await self._wait(lambda: self._advisory_holders("worker", DESK_LOCK_CLASS), 10.0)
        assert self.stack.procs is not None
        victim = busy[0] if busy else next(iter(self.stack.procs.named("worker")), None)
        if victim is None:
            self.figures.takeovers.append((label, "no worker"))
            return
        killed = victim.kill()
        await self._restart(victim)
        async with self.stack.sql() as conn:
            while time.monotonic() - killed < TAKEOVER_TIMEOUT:
                stuck = await conn.fetchval(SENDING)
                if not stuck:
                    break
                await asyncio.sleep(0.2)
        state = "holding a desk lock" if busy else "(no desk lock seen)"
        took = time.monotonic() - killed
        settled = f"no journal row in flight {took:.1f} s after" if not stuck else "rows in flight"
        self.figures.takeovers.append((label, f"{state}; {settled}"))

    async def _kill_stream_holder(self) -> None:
        label = "private-stream holder"
        assert self.stack.procs is not None
        async with self.stack.sql() as conn:
            rows = await conn.fetch(
                "SELECT p.pid, count(*) AS n FROM stream_leases s JOIN processes p "
                "ON p.id = s.holder GROUP BY p.pid ORDER BY n DESC"
            )
            victim = next(
                (p for r in rows if (p := self.stack.procs.by_pid(int(r["pid"]))) is not None),
                None,
            )
            if victim is None:
                self.figures.takeovers.append((label, "no lease held"))
                return
            desks = [
                r["desk_id"]
                for r in await conn.fetch(
                    "SELECT s.desk_id FROM stream_leases s JOIN processes p ON p.id = s.holder "
                    "WHERE p.pid = $1",
                    victim.pid,
                )
            ]
            killed = victim.kill()
            await self._restart(victim)
            while time.monotonic() - killed < TAKEOVER_TIMEOUT:
                again = await conn.fetchval(
                    "SELECT count(*) FROM stream_leases s JOIN processes p ON p.id = s.holder "
                    "WHERE s.desk_id = ANY($1::text[]) AND p.pid <> $2 "
                    "AND s.expires_ms > extract(epoch from now()) * 1000",
                    desks,
                    victim.pid,
                )
                if again == len(desks):
                    break
                await asyncio.sleep(0.2)
        took = time.monotonic() - killed
        self.figures.takeovers.append(
            (label, f"{len(desks)} desk streams held again {took:.1f} s after")
        )

    async def _wait(self, probe: object, limit: float = TAKEOVER_TIMEOUT) -> list[Proc]:
        deadline = time.monotonic() + limit
        while True:
            found: list[Proc] = await probe()  # type: ignore[operator]
            if found or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.1)
