"""The load-and-fault simulation of the process set (issue 22): ``python -m bench.scale`` /
``make scale``. :mod:`bench.scale.cli` runs it; the other modules are its parts."""

from bench.scale.cli import main, parse, run_one

__all__ = ["main", "parse", "run_one"]
