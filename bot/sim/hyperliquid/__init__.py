"""The simulator speaks Hyperliquid too: a Hyperliquid face over the same engine.

=================  =================================================================
``wire``           numbers, coins, the tick/lot rules, the venue's texts and shapes
``signing``        the signer of an ``/exchange`` request, from its EIP-712 signature
``state``          wallets, API wallets, leverage, cloids, funding sizes (:class:`Venue`)
``info``           ``POST /info``, one handler per request type
``exchange``       ``POST /exchange``, one handler per action
``server``         the aiohttp app, control API, :class:`HyperliquidSimulator`
=================  =================================================================
"""

from __future__ import annotations

from bot.sim.hyperliquid.server import HyperliquidServer, HyperliquidSimulator

__all__ = ["HyperliquidServer", "HyperliquidSimulator"]
