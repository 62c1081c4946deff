"""Venues behind one port: Backpack over ``BackpackAPI``, any other perp exchange over ccxt.

``port`` (the protocol and its values), ``backpack`` and ``ccxt_venue`` (the adapters),
``pairs`` (symbols matched across venues) and ``spread`` (rates normalised per hour, the
edge of a pair net of fees, slippage and exit) — the last two pure.
"""
