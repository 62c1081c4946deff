"""Crash points for the crash tests: ``BOT_CRASH_AT=<name>`` kills the process right there.

The journal's promise ("after a crash at any instant, what was sent can be found by its
clientId") is only as good as the instants it was tested at. Timed kills cover the request in
flight; these named points hit the instants between two writes that timing alone rarely finds.
The variable is read on every call (a dictionary lookup) and is never set in production.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

CRASH_ENV = "BOT_CRASH_AT"


def crash_point(name: str) -> None:
    """SIGKILL this process when ``BOT_CRASH_AT`` names this point (tests only)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


SIM_FAULT_ENV = "BOT_SIM_FAULT"


def paper_faults() -> list[dict[str, Any]]:
    """The simulator faults the paper engine starts with: ``BOT_SIM_FAULT`` holds one as the
    control API's JSON (tests only). The paper engine serves no control API, so a crash test
    that needs an order held in flight sets it here instead."""
    raw = os.environ.get(SIM_FAULT_ENV)
    if not raw:
        return []
    fault: dict[str, Any] = json.loads(raw)
    return [fault]
