"""ccxt's HTTP call replaced at the process boundary: every request ccxt builds (URL, method,
headers, body, already signed) is recorded, and answered from canned responses in the venue's
own shape. Nothing reaches the network, and everything before the wire is ccxt's own code."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Answer = Any | Callable[["Request"], Any]


@dataclass(frozen=True)
class Request:
    url: str
    method: str
    headers: dict[str, str]
    body: str | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query))

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def form(self) -> dict[str, str]:
        """The parameters, wherever the venue puts them (query string or urlencoded body)."""
        out = self.query
        if self.body and not self.body.lstrip().startswith("{"):
            out.update(parse_qsl(self.body))
        return out


class Recorder:
    """Installs itself as ``exchange.fetch``; ``route(match, answer)`` adds canned answers, first
    match wins; a request no route answers fails the test with its URL."""

    def __init__(self, exchange: Any) -> None:
        self.requests: list[Request] = []
        self._routes: list[tuple[Callable[[Request], bool], Answer]] = []
        exchange.fetch = self._fetch

    def route(self, match: str | Callable[[Request], bool], answer: Answer) -> None:
        test = match if callable(match) else (lambda r, s=match: s in r.url)
        self._routes.append((test, answer))

    def info(self, kind: str, answer: Answer) -> None:
        """Hyperliquid: a ``POST /info`` of ``{"type": kind}``."""
        self.route(
            lambda r: r.path.endswith("/info") and (r.json or {}).get("type") == kind, answer
        )

    def action(self, kind: str, answer: Answer) -> None:
        """Hyperliquid: a ``POST /exchange`` whose action is ``kind``."""
        self.route(
            lambda r: (
                r.path.endswith("/exchange")
                and ((r.json or {}).get("action") or {}).get("type") == kind
            ),
            answer,
        )

    def sent(self, match: str | Callable[[Request], bool]) -> list[Request]:
        test = match if callable(match) else (lambda r: match in r.url)
        return [r for r in self.requests if test(r)]

    def actions(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Hyperliquid: the actions posted to ``/exchange`` (of ``kind``), in order."""
        out = [r.json for r in self.requests if r.path.endswith("/exchange")]
        return [a for a in out if kind is None or a["action"]["type"] == kind]

    async def _fetch(
        self, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        request = Request(url, method, dict(headers or {}), body)
        self.requests.append(request)
        for test, answer in self._routes:
            if test(request):
                return answer(request) if callable(answer) else json.loads(json.dumps(answer))
        raise AssertionError(f"no canned answer for {method} {url} {body}")
