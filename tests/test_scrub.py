"""Secrets are cut from page JSON before parsing: the fast text path removes exactly what the
walk over the parsed payload removes, for every platform's pages and for awkward JSON."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import orjson
import pytest

from pipelines.fetching import fetch_in_background
from pipelines.http import UnexpectedBody
from pipelines.paging import page_body
from pipelines.shop import RunOptions
from pipelines.windows import Cursor
from platforms import PLATFORMS
from simulators.registry import SIMULATORS
from tests.helpers import FAST_RETRY, shop_for
from transforms.scrub import _WORDS, SENSITIVE_KEYS, json_bytes, scrub, scrubbed_page

AWKWARD = [
    {"password": "p"},
    {"password": "p", "x": 1},
    {"x": 1, "password": -1.5e-7, "cvv": None},
    {"note": 'my "password":"abc", {"cvv":1}', "credit_card_number": {"nested": [1, {"a": 2}]}},
    {"s": "ends with a backslash\\", "password": 'p\\"q'},
    {"card_type": True, "y": [{"check_num": "1", "z": {"avs_result_code": "Y"}}]},
    {"password_confirmation": "a", "password": "b", "credit_card_bin": "4", "x": {"cvv": 1}},
    {"unicode": "naïve \u2013 ✓", "card_last_4": "0027", "card_number": "4242"},
    {"passwords": "not a secret key", "my_password": "nor this", "password_hint": "kept"},
]


def test_awkward_json_is_scrubbed_exactly_like_the_parsed_walk():
    assert scrubbed_page(json_bytes(AWKWARD)) == scrub(copy.deepcopy(AWKWARD))
    assert scrubbed_page(json_bytes(AWKWARD))[-1] == AWKWARD[-1]  # look-alike keys are kept


def test_every_sensitive_key_holds_a_word_that_pages_are_searched_for():
    """A page is searched for a key's member only when it holds one of `_WORDS`."""
    assert all(any(word in key.encode() for word in _WORDS) for key in SENSITIVE_KEYS)


@pytest.mark.parametrize("platform", sorted(SIMULATORS))
def test_every_platforms_pages_are_scrubbed_like_the_parsed_walk(platform, simulator):
    sim = simulator(platform, orders=60)
    shop = shop_for(platform, sim)
    source = PLATFORMS[platform]
    run = RunOptions(started_at=datetime.now(UTC), retry=FAST_RETRY)
    spool = fetch_in_background(source, shop, Cursor(), run, None)
    pages = list(spool)
    for page in pages:
        cleaned = scrubbed_page(page.json())
        assert cleaned == scrub(orjson.loads(page.json()))
        assert not any(f'"{key}":'.encode() in json_bytes(cleaned) for key in SENSITIVE_KEYS)


def test_a_body_as_an_api_may_write_it_is_scrubbed_too():
    """Whitespace between tokens, a key written with escapes, PHP-style escapes in values."""
    body = (
        b'{ "orders" : [\n  { "id" : 1, "pass\\u0077ord" : "p", "name" : "Nguy\\u1ec5n" ,'
        b' "card_number": "4242", "note": "\\"C:\\\\\\"", "cvv" : 1 },\n'
        b'  {"id": 2, "a\\\\b": {"check_num": "1"}} ] , "next_page" : false }'
    )
    page, rest = page_body(body, envelope="orders")
    assert rest == {"next_page": False}
    assert page.ids() == [1, 2]
    cleaned = scrubbed_page(page.json())
    assert cleaned == [
        {"id": 1, "name": "Nguy\u1ec5n", "note": '"C:\\"'},
        {"id": 2, "a\\b": {}},
    ]


def test_a_body_that_is_not_utf8_or_has_no_record_list_is_refused_with_the_reason():
    with pytest.raises(UnexpectedBody, match=r"not UTF-8 \(invalid start byte at byte 29\)"):
        page_body(b'{"orders":[{"id":1,"name":"ab\xff"}]}', "orders")
    for body in (b'{"data":[]}', b'{"orders":{}}', b"[1,2]"):
        with pytest.raises(UnexpectedBody, match="response has no 'orders' list"):
            page_body(body, "orders")
