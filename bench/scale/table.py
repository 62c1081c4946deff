"""The scale bench's one markdown table: a row per figure, a column per user count."""

from __future__ import annotations

from collections.abc import Callable

from bench.scale.checks import MAX_GROUP_PER_MINUTE, MAX_PER_SECOND, Figures


def _ms(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.0f} / {pair[1]:.0f}"


def _rss(f: Figures) -> str:
    roles: dict[str, list[float]] = {}
    for name, mb in f.rss.items():
        roles.setdefault(name.split("-")[0], []).append(mb)
    return ", ".join(f"{r} {max(v):.0f}" for r, v in sorted(roles.items()))


def _ups(f: Figures) -> str:
    if not f.ups:
        return "not measured" if f.set_mode else "n/a (single process)"
    one, two = f.ups.get(1), f.ups.get(2)
    text = " · ".join(f"{n} web: {v:.1f}" for n, v in sorted(f.ups.items()))
    if one and two:
        text += f" ({two / one:.2f}×)"
    return text


def _limits(f: Figures) -> str:
    lim = f.limits
    if lim is None:
        return "-"
    gap = "-" if lim.min_private_gap is None else f"{lim.min_private_gap:.2f} s"
    group = f"group {lim.max_group_per_minute}/min (≤ {MAX_GROUP_PER_MINUTE})"
    return f"{lim.max_per_second}/s (≤ {MAX_PER_SECOND}) · gap before a notice {gap} · {group}"


def _taps(f: Figures) -> str:
    return "; ".join(f"{text!r} ×{n}" for text, n in f.tap_answers.most_common(3)) or "-"


ROWS: list[tuple[str, Callable[[Figures], str]]] = [
    ("processes", lambda f: "set" if f.set_mode else "single `python -m bot`"),
    ("play (s)", lambda f: f"{f.play_seconds:.0f}"),
    ("updates answered once", lambda f: f"{f.answered_once} / {f.updates}"),
    (
        "answered twice: delivered again after its web process was killed mid-answer",
        lambda f: str(f.answered_twice_after_kill),
    ),
    ("update → answer p50 / p95 (ms)", lambda f: _ms(f.update_ms)),
    (
        "orders: exchange / journal / told",
        lambda f: f"{f.orders_exchange} / {f.orders_journal} / {f.orders_told} ({f.taps} ✅)",
    ),
    ("✅ answered", _taps),
    (
        "alerts told once / due (lost, doubled)",
        lambda f: f"{f.alerts_once} / {f.alerts_due} ({f.alerts_lost}, {f.alerts_doubled})",
    ),
    ("tick → alert sent p50 / p95 (ms)", lambda f: _ms(f.alert_ms)),
    ("Telegram limits at the Bot API", _limits),
    ("updates/s", _ups),
    ("peak RSS per process (MB)", _rss),
]


def table(results: list[Figures]) -> str:
    head = "| figure | " + " | ".join(f"{f.users:,} users" for f in results) + " |"
    lines = [head, "|---|" + "---|" * len(results)]
    for name, cell in ROWS:
        lines.append(f"| {name} | " + " | ".join(cell(f) for f in results) + " |")
    faults = max((len(f.takeovers) for f in results), default=0)
    for i in range(faults):
        label = next(f.takeovers[i][0] for f in results if len(f.takeovers) > i)
        cells = [f.takeovers[i][1] if len(f.takeovers) > i else "-" for f in results]
        lines.append(f"| SIGKILL {label} | " + " | ".join(cells) + " |")
    verdict = ["ok" if f.ok else "FAILED" for f in results]
    lines.append("| checks | " + " | ".join(verdict) + " |")
    problems = [f"- {f.users:,} users: {p}" for f in results for p in f.problems]
    return "\n".join(lines + (["", *problems] if problems else []))
