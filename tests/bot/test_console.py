"""A quiet console: ``python -m bot`` prints its one stdout line and warnings; the rest is in
``DATA_DIR/bot.log`` (issue 18)."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import configure_quiet_logging


def test_python_m_bot_prints_one_line_and_logs_to_the_data_dir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BACKPACK_"))}
    env.update(
        EXCHANGE="sim", LOCAL_CHAT_PORT="0", WEBAPP_PORT="0", TELEGRAM_BOT_TOKEN="", DATA_DIR="data"
    )
    env.pop("LOG_LEVEL", None)  # the default, INFO
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the bot answers in the local chat once this is printed
        assert line.startswith("local chat: http://127.0.0.1:"), (line, proc.poll())
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert out == ""  # exactly one line on stdout
    log_file = tmp_path / "data" / "bot.log"
    assert err.splitlines() == [f"log: {log_file} (warnings and errors also here)"], err
    text = log_file.read_text()
    for event in ("alembic.runtime.migration", "INFO bot.paper: paper exchange"):
        assert event in text, text


@pytest.fixture
def root_restored() -> Iterator[list[logging.Handler]]:
    root = logging.getLogger()
    level = root.level
    installed: list[logging.Handler] = []
    yield installed
    for handler in installed:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.mark.parametrize(
    ("level", "in_file", "on_console"),
    [
        ("INFO", ["INFO", "WARNING"], ["WARNING"]),
        ("DEBUG", ["DEBUG", "INFO", "WARNING"], ["WARNING"]),
        ("ERROR", [], []),  # LOG_LEVEL still raises the bar, on the console too
    ],
)
def test_log_level_sets_the_file_and_warnings_reach_the_console(
    tmp_path: Path,
    root_restored: list[logging.Handler],
    level: str,
    in_file: list[str],
    on_console: list[str],
) -> None:
    console = io.StringIO()
    log_file = tmp_path / "logs" / "bot.log"
    root_restored += configure_quiet_logging(level, log_file, console)
    log = logging.getLogger("bot.test_console")
    log.debug("a debug line")
    log.info("an info line")
    log.warning("a warning line")

    def levels(text: str) -> list[str]:
        return [line.split()[2] for line in text.splitlines() if "bot.test_console:" in line]

    for handler in root_restored:
        handler.flush()
    assert levels(log_file.read_text()) == in_file
    assert levels(console.getvalue()) == on_console


def test_make_run_adds_nothing_to_the_console() -> None:
    """``make run`` echoed ``.venv/bin/python -m bot`` above the one line the README promises;
    every command of its recipe is silent (``@``), so the console is the bot's own."""
    makefile = (Path(__file__).parents[2] / "Makefile").read_text().splitlines()
    start = makefile.index(next(line for line in makefile if line.startswith("run:")))
    recipe = []
    for line in makefile[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line)
    assert any("-m bot" in line for line in recipe), recipe
    assert all(line.startswith("\t@") for line in recipe), recipe
