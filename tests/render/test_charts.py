"""Charts write their axis numbers out in full: no "+1e4" offset, thousands separators."""

from __future__ import annotations

from decimal import Decimal

from matplotlib.backends.backend_agg import FigureCanvasAgg

from bot.render.charts import PlainNumbers, equity_figure, equity_png, price_funding_figure

HOUR_MS = 3_600_000


def _labels(fig_axis: object) -> list[str]:
    return [t.get_text() for t in fig_axis.get_ticklabels()]  # type: ignore[attr-defined]


def test_a_backtest_equity_near_10000_has_no_offset_and_reads_in_full() -> None:
    points = [(i * HOUR_MS, Decimal(10_000) + Decimal(i) / 2) for i in range(20)]
    fig = equity_figure(points, "backtest")
    FigureCanvasAgg(fig).draw()  # type: ignore[no-untyped-call]
    (ax,) = fig.axes
    assert ax.yaxis.get_offset_text().get_text() == ""
    labels = [x for x in _labels(ax.yaxis) if x]
    assert "10,008" in labels, labels  # the top reads 10,008, not "8" under a "+1e4"
    assert all(9_000 < float(x.replace(",", "")) < 11_000 for x in labels), labels
    assert equity_png(points, "backtest").startswith(b"\x89PNG")


def test_price_and_funding_axes_have_no_offset() -> None:
    prices = [(i * HOUR_MS, Decimal(97_000) + i) for i in range(48)]
    funding = [(i * HOUR_MS, Decimal("0.0000125") + Decimal(i) / 10**8) for i in range(48)]
    fig = price_funding_figure("BTC_USDC_PERP", prices, funding)
    FigureCanvasAgg(fig).draw()  # type: ignore[no-untyped-call]
    for ax in fig.axes:
        assert ax.yaxis.get_offset_text().get_text() == ""
    top_labels = [x for x in _labels(fig.axes[0].yaxis) if x]
    assert all("," in x for x in top_labels), top_labels


def test_the_formatter_uses_the_decimals_the_ticks_need() -> None:
    f = PlainNumbers()
    f.set_locs([10_000.0, 10_002.5, 10_005.0])
    assert f(10_002.5) == "10,002.5"
    f.set_locs([0.001, 0.002])
    assert f(0.0015) == "0.002" or f(0.0015) == "0.001"  # three places, rounded
    assert f(0.0) == "0"
