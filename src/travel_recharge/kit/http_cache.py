"""Conditional GET for JSON answers: a strong ETag from the body's hash, 304 when it matches.

Clients that keep a big answer (all station identifiers, a route's stops) revalidate it with
If-None-Match and get an empty 304 instead of the same hundreds of kilobytes again.
"""

from __future__ import annotations

import hashlib

from fastapi import Request, Response


def etag_of(body: bytes) -> str:
    """A strong entity tag: the same bytes always give the same tag, on every worker."""
    # blake2b is faster than sha256 here, and 128 bits are plenty to tell versions apart.
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def if_none_match_matches(header: str, etag: str) -> bool:
    """Whether an If-None-Match value names `etag` (or is "*")."""
    # If-None-Match uses the weak comparison (RFC 9110, 13.1.2): W/"x" matches "x", so a proxy
    # that weakened our tag when it compressed the answer still gets its 304.
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def conditional_json(request: Request, body: bytes, max_age_s: int) -> Response:
    """The JSON `body` with ETag and Cache-Control, or a bodyless 304 when the client has it.

    The tag is computed from the uncompressed JSON; kit.compression gzips afterwards and
    keeps the tag, so both encodings share it. That is enough for revalidation (the only use
    here); byte ranges, where encodings must differ, are not served.
    """
    etag = etag_of(body)
    # max-age is the view's server-side cache TTL: clients accept the staleness the server
    # already accepts for it, then revalidate cheaply.
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age_s}"}
    condition = request.headers.get("if-none-match")
    if condition is not None and if_none_match_matches(condition, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)
