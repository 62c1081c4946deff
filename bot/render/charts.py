"""Charts as PNG bytes (matplotlib, Agg backend, no pyplot global state).

Money arrives as ``Decimal`` and becomes ``float`` only here, for plotting.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC
from decimal import Decimal
from itertools import pairwise

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter

GREEN = "#2e9d5b"
RED = "#d0453c"
BLUE = "#2a6fdb"
DAY_MS = 86_400_000


def _dates(ms: Sequence[int]) -> list[float]:
    """Epoch ms → matplotlib date numbers (days since its default 1970 epoch)."""
    return [t / DAY_MS for t in ms]


class PlainNumbers(Formatter):
    """Axis numbers written out in full, with thousands separators and as many decimals as the
    tick spacing needs: never matplotlib's offset ("+1e4" over ticks reading "8" for 10,008)
    nor scientific notation."""

    def __init__(self) -> None:
        self.places = 0

    def set_locs(self, locs: list[float]) -> None:
        super().set_locs(locs)
        steps = [abs(b - a) for a, b in pairwise(locs) if b != a]
        step = min(steps) if steps else 1.0
        exponent = Decimal(f"{step:.10g}").normalize().as_tuple().exponent
        self.places = max(0, min(8, -exponent)) if isinstance(exponent, int) else 0

    def __call__(self, x: float, pos: int | None = None) -> str:
        text = f"{x:,.{self.places}f}"
        return "0" if text.strip("-0.,") == "" else text

    def get_offset(self) -> str:
        return ""


def _plain(*axes: Axis) -> None:
    for axis in axes:
        axis.set_major_formatter(PlainNumbers())


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _time_axis(ax: Axes) -> None:
    ax.xaxis_date(tz=UTC)
    ax.figure.autofmt_xdate()


def equity_png(points: Sequence[tuple[int, Decimal]], title: str) -> bytes:
    """The equity curve of a backtest or of the journal, ``(ms, equity)`` oldest first."""
    return _png(equity_figure(points, title))


def equity_figure(points: Sequence[tuple[int, Decimal]], title: str) -> Figure:
    """:func:`equity_png`'s figure."""
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    if points:
        xs = _dates([t for t, _ in points])
        ys = [float(v) for _, v in points]
        ax.plot(xs, ys, color=BLUE, linewidth=1.5)
        ax.axhline(ys[0], color="grey", linewidth=0.8, linestyle="--")
        _time_axis(ax)
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_ylabel("equity, USDC")
    ax.grid(alpha=0.3)
    _plain(ax.yaxis)
    return fig


def price_funding_png(
    symbol: str,
    prices: Sequence[tuple[int, Decimal]],
    funding: Sequence[tuple[int, Decimal]],
) -> bytes:
    """Price on top, the funding rate per interval (in %) as bars below, sharing the time axis."""
    return _png(price_funding_figure(symbol, prices, funding))


def price_funding_figure(
    symbol: str,
    prices: Sequence[tuple[int, Decimal]],
    funding: Sequence[tuple[int, Decimal]],
) -> Figure:
    """:func:`price_funding_png`'s figure."""
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.4])
    if prices:
        top.plot(_dates([t for t, _ in prices]), [float(p) for _, p in prices], color=BLUE)
    top.set_title(f"{symbol} price and funding")
    top.set_ylabel("price")
    top.grid(alpha=0.3)
    if funding:
        xs = _dates([t for t, _ in funding])
        ys = [float(r) * 100 for _, r in funding]
        colors = [GREEN if y >= 0 else RED for y in ys]
        width = 0.8 / 24 if len(xs) < 2 else (xs[1] - xs[0]) * 0.8
        bottom.bar(xs, ys, width=width, color=colors)
    bottom.axhline(0, color="grey", linewidth=0.8)
    bottom.set_ylabel("funding %")
    bottom.grid(alpha=0.3)
    if prices or funding:
        _time_axis(bottom)
    _plain(top.yaxis, bottom.yaxis)
    return fig


def funding_bars_png(rates: Sequence[tuple[str, Decimal]], title: str) -> bytes:
    """Current funding rate per interval (in %) of each perp, as horizontal bars."""
    fig = Figure(figsize=(8, max(3.0, 0.4 * len(rates) + 1.2)), layout="constrained")
    ax = fig.add_subplot()
    names = [s.removesuffix("_USDC_PERP") for s, _ in rates]
    values = [float(r) * 100 for _, r in rates]
    ax.barh(names, values, color=[GREEN if v >= 0 else RED for v in values])
    ax.invert_yaxis()  # largest first, as listed
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("funding rate per interval, %")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    _plain(ax.xaxis)
    return _png(fig)


def spread_png(title: str, series: Sequence[tuple[int, Decimal]]) -> bytes:
    """A funding spread over time: APR(Backpack) − APR(hedge venue) per hour, in %, with the
    zero line (above: Backpack pays more, short Backpack)."""
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    if series:
        xs = _dates([t for t, _ in series])
        ys = [float(v) * 100 for _, v in series]
        ax.plot(xs, ys, color=BLUE, linewidth=1.2)
        ax.fill_between(xs, ys, 0, where=[y >= 0 for y in ys], color=GREEN, alpha=0.2)
        ax.fill_between(xs, ys, 0, where=[y < 0 for y in ys], color=RED, alpha=0.2)
        _time_axis(ax)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel("spread APR, %")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _png(fig)
