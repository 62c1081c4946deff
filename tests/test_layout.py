"""The architecture's import rules, checked on the source: rooms below the handlers never
import python-telegram-bot, and nothing reaches the long-lived objects by string."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NO_TELEGRAM = [
    "bot/services",
    "bot/storage",
    "bot/alerts",
    "bot/strategy",
    "bot/exchange",
    "bot/sim",
    "bot/backtest",
    "bot/container.py",
    "bot/paper.py",
    "bot/settings.py",
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(rel: str) -> list[Path]:
    p = ROOT / rel
    return [p] if p.is_file() else sorted(p.rglob("*.py"))


@pytest.mark.parametrize("room", NO_TELEGRAM)
def test_only_handlers_jobs_and_render_import_telegram(room: str) -> None:
    offenders = [
        str(f.relative_to(ROOT))
        for f in _files(room)
        if any(n == "telegram" or n.startswith("telegram.") for n in _imports(f))
    ]
    assert offenders == []


def test_no_object_lookup_by_string() -> None:
    """Services come from the typed container; handler and job lists are explicit."""
    for f in [*_files("handlers"), *_files("jobs"), *_files("bot")]:
        text = f.read_text()
        assert "extras[" not in text and "extras.get(" not in text, f
    for f in [*_files("handlers"), *_files("jobs"), ROOT / "bot/app.py"]:
        assert "importlib" not in f.read_text(), f
