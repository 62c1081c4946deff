"""``python -m bench``: run every ``bench/*.py`` module that defines ``main()``.

``python -m bench desks --desks 100`` runs only the named modules; the options after the names
are left in ``sys.argv`` for them to read.

Each module prints its own table (rates against a baseline measured in the same run).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import sys
import time

import bench


def main() -> int:
    """Import each benchmark module in name order and run its ``main()`` (sync or async)."""
    failed = 0
    names = []
    while len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        names.append(sys.argv.pop(1))
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or (names and info.name not in names):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        entry = getattr(module, "main", None)
        if not callable(entry):
            continue
        print(f"== bench.{info.name}", flush=True)
        start = time.perf_counter()
        try:
            result = entry()
            if inspect.isawaitable(result):
                asyncio.run(_await(result))
        except Exception as exc:  # one broken benchmark must not hide the others' numbers
            failed += 1
            print(f"bench.{info.name} failed: {exc!r}", flush=True)
        print(f"   ({time.perf_counter() - start:.1f} s)\n", flush=True)
    return 1 if failed else 0


async def _await(awaitable: object) -> None:
    await awaitable  # type: ignore[misc]


if __name__ == "__main__":
    sys.exit(main())
