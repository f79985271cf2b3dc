"""ETag matching rules of the conditional GET helper."""

from __future__ import annotations

import pytest

from travel_recharge.kit.http_cache import etag_of, if_none_match_matches


def test_etag_is_strong_stable_and_content_derived() -> None:
    tag = etag_of(b'{"a":1}')
    assert tag == etag_of(b'{"a":1}')
    assert tag != etag_of(b'{"a":2}')
    assert tag.startswith('"')
    assert not tag.startswith("W/")
    assert len(tag) == 34


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ('"x",W/"abc"', True),
        ("*", True),
        ('"abcd"', False),
        ('"ab"', False),
        ("abc", False),
        ("", False),
    ],
)
def test_if_none_match(header: str, matches: bool) -> None:
    assert if_none_match_matches(header, '"abc"') is matches
