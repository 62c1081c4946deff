"""What ``/pnl`` and the dashboard's PnL page show adds up: each net is the sum of its row's
shown cents, the total row the sum of the shown rows, and both surfaces show the same text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from bot.render import dashboard
from bot.render import strategy as render
from bot.render.reports import period_table as table
from bot.services.account.journal import PnlReport, PnlRow
from bot.services.account.reports import period_table
from bot.storage.strategy import JournalEntry

D = Decimal
#: Half cents everywhere: rounded one by one, the parts and the net disagree by a cent.
ROWS = (
    PnlRow("BTC_USDC_PERP", D("1.005"), D("0.005"), D("1.005"), D("0.0049")),
    PnlRow("ETH_USDC_PERP", D("2.005"), D("-0.004"), D("0.015"), D("0.0051")),
)
TOTAL = PnlRow(
    "TOTAL",
    sum((r.realized for r in ROWS), D(0)),
    sum((r.unrealized for r in ROWS), D(0)),
    sum((r.funding for r in ROWS), D(0)),
    sum((r.fees for r in ROWS), D(0)),
)
REPORT = PnlReport("all", "paper", ROWS, TOTAL)
AMOUNT = r"([+-]?[\d,]+\.\d+) USDC"


def _parts(line: str) -> list[Decimal]:
    """realised, unrealised, funding, fees, net of one /pnl line, as read."""
    return [D(x.replace(",", "")) for x in re.findall(AMOUNT, line)]


def test_every_pnl_line_adds_up_as_shown() -> None:
    text = render.pnl(REPORT)
    lines = [ln for ln in text.splitlines() if "net" in ln]
    assert len(lines) == 3, text
    shown = [_parts(ln) for ln in lines]
    for realised, unrealised, funding, fees, net in shown:
        assert realised + unrealised + funding - fees == net, text
    rows, total = shown[:2], shown[2]
    for col in range(5):
        assert sum(r[col] for r in rows) == total[col], (col, text)
    # each shown amount stays within half a cent of the ledger's
    assert shown[0][:4] == [D("1.01"), D("0.01"), D("1.01"), D("0.00")]


def test_the_dashboard_shows_the_chats_numbers() -> None:
    page = dashboard.pnl(REPORT, "<svg/>")
    text = render.pnl(REPORT)
    lines = [ln for ln in text.splitlines() if "net" in ln]
    for row, line in zip([*page["rows"], page["total"]], lines, strict=True):
        assert [
            D(row[k].removesuffix(" USDC").replace(",", ""))
            for k in ("realized", "unrealized", "funding", "fees", "net")
        ] == _parts(line), (row, line)
    funding = dashboard.funding(REPORT, "backpack")
    assert [f["funding"] for f in funding] == ["+1.01 USDC", "+0.02 USDC"]


def test_hedge_venue_total_adds_its_shown_rows() -> None:
    text = render.hedge_funding("hyperliquid", {"BTC": D("0.005"), "ETH": D("0.005")})
    assert "+0.01 USDC" in text.splitlines()[1]
    assert text.splitlines()[-1].endswith("+0.02 USDC"), text


def test_daily_nets_add_their_shown_cells() -> None:
    now = datetime(2026, 3, 18, 12, tzinfo=UTC)
    at = int(datetime(2026, 3, 18, 1, tzinfo=UTC).timestamp() * 1000)
    journal = [
        JournalEntry(
            "f1",
            "fill",
            "paper",
            at,
            "BTC_USDC_PERP",
            "Bid",
            D(1),
            D("100"),
            D("0.005"),
            "USDC",
            D(0),
        ),
        JournalEntry(
            "f2",
            "fill",
            "paper",
            at + 1,
            "BTC_USDC_PERP",
            "Ask",
            D(1),
            D("100.015"),
            D("0.005"),
            "USDC",
            D(0),
        ),
        JournalEntry(
            "u1",
            "funding",
            "paper",
            at + 2,
            "BTC_USDC_PERP",
            None,
            D(0),
            None,
            D(0),
            None,
            D("0.005"),
        ),
    ]
    [row] = period_table(journal, "day", 1, now)
    text = table("day", [row], "paper")
    cells = text.split("<pre>")[1].split("</pre>")[0].splitlines()[1].split()
    realised, funding, fees, net = (D(c) for c in cells[2:6])
    assert realised + funding - fees == net, text
