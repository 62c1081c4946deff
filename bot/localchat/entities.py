"""Telegram's HTML parse mode: HTML source → plain text + message entities, or Telegram's error.

Pure functions. The rules follow the Bot API's "HTML style" section and the messages Telegram
(TDLib's ``parse_html``) answers with, so a message the real server refuses is refused here too:
only ``b strong i em u ins s strike del span.tg-spoiler tg-spoiler a code pre blockquote
tg-emoji`` are allowed, every tag must be closed in order, and only ``&lt; &gt; &amp; &quot;``
and numeric character references are entities. Offsets and lengths are in UTF-16 code units,
as on the wire.
"""

from __future__ import annotations

import re
from typing import Any

#: Tag name → entity type (``a``, ``span``, ``pre``/``code`` and friends are refined on close).
_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_COMMAND = re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")
_URL = re.compile(r"\bhttps?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; ``str()`` is Telegram's own wording."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Open:
    __slots__ = ("attrs", "byte_offset", "name", "start")

    def __init__(self, name: str, attrs: dict[str, str], start: int, byte_offset: int) -> None:
        self.name, self.attrs, self.start, self.byte_offset = name, attrs, start, byte_offset


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """``source`` in Telegram's HTML → ``(text, entities)``; raises :class:`EntityParseError`."""
    out: list[str] = []
    u16 = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(source)

    def at(index: int) -> int:
        return len(source[:index].encode())

    while i < n:
        c = source[i]
        if c == "&":
            char, i = _entity(source, i)
            out.append(char)
            u16 += utf16_len(char)
            continue
        if c != "<":
            out.append(c)
            u16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        end = source.find(">", i)
        if source.startswith("</", i):
            if end == -1:
                raise EntityParseError(f"Unclosed end tag at byte offset {at(i)}")
            name = source[i + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {at(i)}")
            top = stack.pop()
            if name and name != top.name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {at(i)}, expected "</{top.name}>", '
                    f'found "</{name}>"'
                )
            entity = _close(top, u16, stack)
            if entity is not None:
                entities.append(entity)
            i = end + 1
            continue
        match = re.match(r"<([A-Za-z0-9-]*)", source[i:])
        name = match.group(1).lower() if match else ""
        if name not in _TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {at(i)}')
        if end == -1:
            raise EntityParseError(f"Unclosed start tag at byte offset {at(i)}")
        attrs = _attributes(source[i + 1 + len(name) : end].rstrip("/"), at(i))
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {at(i)}'
            )
        stack.append(_Open(name, attrs, u16, at(i)))
        i = end + 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    text = "".join(out)
    entities.extend(detect(text, entities))
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, entities


def _entity(source: str, i: int) -> tuple[str, int]:
    """The character an ``&…;`` reference at ``i`` stands for, and the index after it."""
    semi = source.find(";", i + 1, i + 12)
    if semi != -1:
        name = source[i + 1 : semi]
        if name in _NAMED:
            return _NAMED[name], semi + 1
        if re.fullmatch(r"#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}", name):
            code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
            if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                return chr(code), semi + 1
    return "&", i + 1


def _attributes(raw: str, byte_offset: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    pattern = re.compile(r"\s*([A-Za-z-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?")
    pos = 0
    while pos < len(raw.rstrip()):
        m = pattern.match(raw, pos)
        if m is None or m.end() == pos:
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag at byte offset "
                f"{byte_offset}"
            )
        value = m.group(2) or ""
        if value[:1] in "\"'":
            value = value[1:-1]
        attrs[m.group(1).lower()] = "".join(_unescape(value))
        pos = m.end()
    return attrs


def _unescape(value: str) -> list[str]:
    chars: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            char, i = _entity(value, i)
            chars.append(char)
        else:
            chars.append(value[i])
            i += 1
    return chars


def _close(tag: _Open, end: int, stack: list[_Open]) -> dict[str, Any] | None:
    length = end - tag.start
    if length <= 0:
        return None
    kind = _TAGS[tag.name]
    entity: dict[str, Any] = {"type": kind, "offset": tag.start, "length": length}
    if tag.name == "a":
        href = tag.attrs.get("href", "")
        mention = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if mention:
            return {**entity, "type": "text_mention", "user": {"id": int(mention.group(1))}}
        if not href:
            return None  # Telegram keeps the text and drops a link without a target
        entity["url"] = href
    elif tag.name == "code" and stack and stack[-1].name == "pre":
        language = tag.attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].attrs["language"] = language.removeprefix("language-")
            return None
    elif tag.name == "pre" and tag.attrs.get("language"):
        entity["language"] = tag.attrs["language"]
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs.get("emoji-id", "")
    return entity


def detect(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entities Telegram finds by itself: ``/commands`` and URLs outside code and links."""
    taken = [
        (e["offset"], e["offset"] + e["length"])
        for e in entities
        if e["type"] in ("code", "pre", "text_link")
    ]
    found: list[dict[str, Any]] = []
    for kind, pattern in (("bot_command", _COMMAND), ("url", _URL)):
        for m in pattern.finditer(text):
            start = utf16_len(text[: m.start()])
            length = utf16_len(m.group(0))
            if any(a < start + length and start < b for a, b in taken):
                continue
            taken.append((start, start + length))
            found.append({"type": kind, "offset": start, "length": length})
    return found
