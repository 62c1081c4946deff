"""Who signed an ``/exchange`` request: the signer recovered from its EIP-712 signature.

Two schemes, as on the venue (and as ccxt and the venue's Python SDK sign):

* L1 actions (order, cancel, updateLeverage, setReferrer …) sign a *phantom agent*: the
  keccak of ``msgpack(action) + nonce (8 bytes) + vault flag [+ vault] [+ 0 + expiresAfter]``
  is the ``connectionId`` of an ``Agent {source, connectionId}`` in domain
  ``Exchange``/``1``/chainId 1337; ``source`` is ``"a"`` on mainnet.
* User-signed actions (approveAgent, approveBuilderFee) sign the action's own fields as
  ``HyperliquidTransaction:<Name>`` in domain ``HyperliquidSignTransaction`` on the chain the
  action names in ``signatureChainId``.

A wrong key still recovers *an* address; it is simply nobody the venue knows.
"""

from __future__ import annotations

from typing import Any

import msgpack
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
MAINNET_SOURCE = "a"
DOMAIN_TYPES = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
USER_SIGNED_TYPES: dict[str, tuple[str, list[dict[str, str]]]] = {
    "approveAgent": (
        "HyperliquidTransaction:ApproveAgent",
        [
            {"name": "hyperliquidChain", "type": "string"},
            {"name": "agentAddress", "type": "address"},
            {"name": "agentName", "type": "string"},
            {"name": "nonce", "type": "uint64"},
        ],
    ),
    "approveBuilderFee": (
        "HyperliquidTransaction:ApproveBuilderFee",
        [
            {"name": "hyperliquidChain", "type": "string"},
            {"name": "maxFeeRate", "type": "string"},
            {"name": "builder", "type": "address"},
            {"name": "nonce", "type": "uint64"},
        ],
    ),
}


class BadSignature(ValueError):
    """The signature is not three well-formed numbers, or recovers no key."""


def action_hash(
    action: dict[str, Any], vault: str | None, nonce: int, expires_after: int | None
) -> bytes:
    """The phantom agent's ``connectionId`` for an L1 action."""
    data = msgpack.packb(action)
    data += nonce.to_bytes(8, "big")
    if vault is None:
        data += b"\x00"
    else:
        data += b"\x01" + bytes.fromhex(vault.removeprefix("0x"))
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return bytes(keccak(data))


def recover_l1(
    action: dict[str, Any],
    signature: Any,
    nonce: int,
    vault: str | None = None,
    expires_after: int | None = None,
) -> str:
    """The (lower-case) address that signed an L1 action on mainnet."""
    message = {
        "domain": {
            "chainId": 1337,
            "name": "Exchange",
            "verifyingContract": ZERO_ADDRESS,
            "version": "1",
        },
        "types": {
            "Agent": [
                {"name": "source", "type": "string"},
                {"name": "connectionId", "type": "bytes32"},
            ],
            "EIP712Domain": DOMAIN_TYPES,
        },
        "primaryType": "Agent",
        "message": {
            "source": MAINNET_SOURCE,
            "connectionId": action_hash(action, vault, nonce, expires_after),
        },
    }
    return _recover(message, signature)


def recover_user_signed(action: dict[str, Any], signature: Any) -> str:
    """The address that signed a user-signed action (``approveAgent``, ``approveBuilderFee``)."""
    primary, fields = USER_SIGNED_TYPES[action["type"]]
    try:
        chain_id = int(str(action["signatureChainId"]), 16)
    except (KeyError, ValueError):
        raise BadSignature("signatureChainId") from None
    body = {f["name"]: action.get(f["name"], "") for f in fields}
    message = {
        "domain": {
            "name": "HyperliquidSignTransaction",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": ZERO_ADDRESS,
        },
        "types": {primary: fields, "EIP712Domain": DOMAIN_TYPES},
        "primaryType": primary,
        "message": body,
    }
    return _recover(message, signature)


def _recover(message: dict[str, Any], signature: Any) -> str:
    if not isinstance(signature, dict):
        raise BadSignature("signature")
    try:
        r = int(str(signature["r"]), 16)
        s = int(str(signature["s"]), 16)
        v = int(signature["v"])
        signable = encode_typed_data(full_message=message)
        address: str = Account.recover_message(signable, vrs=(v, r, s))
    except Exception as exc:  # eth_account raises several types for a bad signature
        raise BadSignature(type(exc).__name__) from None
    return address.lower()
