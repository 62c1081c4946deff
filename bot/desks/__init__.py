"""Desks: many trading accounts on one bot, each with its own members (issue 21).

:mod:`bot.desks.model` holds the pure values and the error tree; :mod:`bot.desks.registry` the
one :class:`~bot.desks.registry.Desks` object per process that knows who belongs where. This
package file imports nothing, so the storage layer may import :mod:`bot.desks.model` without a
cycle.
"""
