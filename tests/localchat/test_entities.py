"""Telegram's HTML parse mode: text and entities (UTF-16 offsets), and Telegram's refusals."""

from __future__ import annotations

import pytest

from bot.localchat.entities import EntityParseError, parse_html


def test_text_and_nested_entities_with_utf16_offsets() -> None:
    text, entities = parse_html(
        "🚀 <b>bold <i>both</i></b> &lt;x&gt; &amp; &#65;&#x42; <code>a&lt;b</code>"
    )
    assert text == "🚀 bold both <x> & AB a<b"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 8, "length": 4},
        {"type": "code", "offset": 22, "length": 3},
    ]


def test_links_spoilers_pre_language_quotes_and_detected_commands() -> None:
    text, entities = parse_html(
        '<a href="https://x.example/?a=1&amp;b=2">site</a> <tg-spoiler>s</tg-spoiler> '
        '<span class="tg-spoiler">t</span> <pre><code class="language-python">x = 1</code></pre>'
        " <blockquote expandable>q</blockquote> try /buy or https://backpack.exchange"
    )
    assert text == "site s t x = 1 q try /buy or https://backpack.exchange"
    kinds = [(e["type"], text[e["offset"] : e["offset"] + e["length"]]) for e in entities]
    assert kinds == [
        ("text_link", "site"),
        ("spoiler", "s"),
        ("spoiler", "t"),
        ("pre", "x = 1"),
        ("expandable_blockquote", "q"),
        ("bot_command", "/buy"),
        ("url", "https://backpack.exchange"),
    ]
    assert entities[0]["url"] == "https://x.example/?a=1&b=2"
    assert entities[3]["language"] == "python"


def test_unknown_entities_stay_literal() -> None:
    assert parse_html("AT&T &nbsp; &copy")[0] == "AT&T &nbsp; &copy"


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("é<b>x</i>", 'Unmatched end tag at byte offset 6, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
def test_refusals_word_for_word(source: str, error: str) -> None:
    with pytest.raises(EntityParseError) as err:
        parse_html(source)
    assert str(err.value) == error
