"""Imports every domain's models so ``Base.metadata`` is complete (used by Alembic's env)."""

from __future__ import annotations

import importlib
import pkgutil

import bot.storage
from bot.storage.base import Base


def load_all() -> type[Base]:
    for mod in pkgutil.iter_modules(bot.storage.__path__):
        if mod.name not in ("migrations", "db", "models"):
            importlib.import_module(f"bot.storage.{mod.name}")
    return Base
