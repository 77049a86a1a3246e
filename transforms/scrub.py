"""Raw order payloads without secrets: passwords, card data and the like are removed from a
page's JSON as it is parsed, so they reach neither the mappers nor the stored payloads, which
are written back as compact JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

SENSITIVE_KEYS = frozenset(
    {
        "password",
        "password_confirmation",
        "credit_card_number",
        "credit_card_bin",
        "card_number",
        "card_last_4",
        "card_type",
        "check_num",
        "cvv",
        "cvv_result_code",
        "avs_result_code",
    }
)


# In compact JSON (no whitespace between tokens) a member is `"name":value` and a quote inside a
# string is always escaped, so these match real members only, never text inside a value.
_SCALAR = rb'(?:"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null)'
_SENSITIVE_MEMBERS = [
    (
        b'"%s":' % re.escape(key.encode()),
        re.compile(b',"%s":' % re.escape(key.encode()) + _SCALAR + b"(?=[,}])"),  # not first
        re.compile(b'{"%s":' % re.escape(key.encode()) + _SCALAR + b",?"),  # first in its object
    )
    for key in sorted(SENSITIVE_KEYS)
]
# Each sensitive key holds one of these words: a page is searched once per word, and for a key's
# member only when it holds the key's word (most pages hold none of them, or one).
_WORDS = (b"password", b"card_", b"cvv", b"check_num", b"avs_result_code")
_WORD_OF = {
    needle: word for needle, _, _ in _SENSITIVE_MEMBERS for word in _WORDS if word in needle
}
# A key written with an escape (`"pass\u0077ord":`) would hide from those searches; such a
# key (rare: the escapes APIs write are in values) sends the page through the walk.
_ESCAPED_KEY = re.compile(rb'\\(?:[^"\\]|\\.)*":')


def scrubbed_page(page: bytes) -> Any:
    """Parse a page's compact JSON (no whitespace between tokens) without passwords, card data
    or other secrets, at any depth. Sensitive members are cut from the text before parsing,
    which costs little; a sensitive value that is an object or a list, or a key written with
    escapes, is removed by walking the parsed page."""
    held = {word for word in _WORDS if word in page}
    present = [
        member for member in _SENSITIVE_MEMBERS if _WORD_OF[member[0]] in held and member[0] in page
    ]
    for _, later_member, first_member in present:
        page = first_member.sub(b"{", later_member.sub(b"", page))
    payloads = _parsed(page)
    # Cutting whole members joins text that was already there, so only a key seen before can
    # remain (its value was an object or a list).
    if any(needle in page for needle, _, _ in present) or (
        b"\\" in page and _ESCAPED_KEY.search(page)
    ):
        scrub(payloads)
    return payloads


def scrub(payload: Any) -> Any:
    """Remove every sensitive key from a parsed payload, at any depth, in place; return it."""
    stack = [payload]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in [key for key in node if key in SENSITIVE_KEYS]:
                del node[key]
            stack.extend(value for value in node.values() if isinstance(value, dict | list))
        elif isinstance(node, list):
            stack.extend(value for value in node if isinstance(value, dict | list))
    return payload


def compact_json(text: bytes) -> bytes:
    """JSON text written again compactly, as `json_bytes` writes it (Postgres gives its jsonb
    back with spaces and its own key order)."""
    return json_bytes(_parsed(text))


def _parsed(text: bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # integers beyond 64 bits
        return json.loads(text)


def json_bytes(payload: Any) -> bytes:
    """Compact UTF-8 JSON of a parsed payload."""
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError:  # integers beyond 64 bits
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
