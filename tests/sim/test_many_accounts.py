"""Many accounts do not make an order's durable work bigger.

An order's journal record holds what the order touched — never the other accounts — and the
fold of the journal into a snapshot (which does write every account) comes at most once per
``COMPACT_RATIO`` snapshots of journal. Sizes are counted, not timed.
"""

from __future__ import annotations

from pathlib import Path

from bot.sim.engine import Engine
from bot.sim.store import MIN_COMPACT_BYTES, StateStore

SOL = "SOL_USDC_PERP"


def _order(side: str) -> dict[str, str]:
    return {"symbol": SOL, "side": side, "orderType": "Market", "quantity": "0.1"}


def _record_bytes(tmp: Path, accounts: int) -> tuple[int, int, StateStore]:
    """Journal bytes of one order after ``accounts`` others each opened a position."""
    engine = Engine(seed=1)
    for i in range(accounts):
        engine.execute(f"other{i}", _order("Bid" if i % 2 else "Ask"))
    store = StateStore(tmp / f"s{accounts}.json")
    store.load(engine)  # folds every account into the snapshot
    before = store.wal_path.stat().st_size
    engine.execute("trader", _order("Bid"))
    store.save(engine)
    return store.wal_path.stat().st_size - before, store.path.stat().st_size, store


def test_an_orders_journal_record_does_not_grow_with_the_other_accounts(tmp_path: Path) -> None:
    few, few_snapshot, a = _record_bytes(tmp_path, 2)
    many, many_snapshot, b = _record_bytes(tmp_path, 2000)
    a.close()
    b.close()
    assert many_snapshot > 500 * few_snapshot  # the snapshot does hold them all ...
    assert abs(many - few) <= 16  # ... the order's record does not (ids may gain a digit)


def test_the_journal_folds_only_after_several_snapshots_of_records(tmp_path: Path) -> None:
    engine = Engine(seed=1)
    for i in range(1000):
        engine.execute(f"other{i}", _order("Bid" if i % 2 else "Ask"))
    store = StateStore(tmp_path / "s.json")
    store.load(engine)
    generation, snapshot = store.generation, store.path.stat().st_size
    assert snapshot > MIN_COMPACT_BYTES  # so the snapshot's size, not the floor, decides
    written = 0
    while written <= snapshot:  # one snapshot's worth of records: no fold yet
        engine.execute("trader", _order("Bid" if written % 2 else "Ask"))
        store.save(engine)
        written = store.wal_path.stat().st_size
    assert store.generation == generation
    store.close()
