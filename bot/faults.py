"""Crash points for the crash tests: ``BOT_CRASH_AT=<name>`` kills the process right there.

The journal's promise ("after a crash at any instant, what was sent can be found by its
clientId") is only as good as the instants it was tested at. Timed kills cover the request in
flight; these named points hit the instants between two writes that timing alone rarely finds.
The variable is read on every call (a dictionary lookup) and is never set in production.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "BOT_CRASH_AT"


def crash_point(name: str) -> None:
    """SIGKILL this process when ``BOT_CRASH_AT`` names this point (tests only)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
