"""kit.compression answers exactly what Starlette's GZipMiddleware answers, message for
message, for every kind of answer: small and large, whole and streamed, already encoded,
of a type never compressed, partial; to clients that accept gzip and to clients that do not."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import pytest
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from travel_recharge.kit.compression import Compression

MINIMUM = 1000
SMALL = b'{"card_id": 12, "balance": 4500}'
LARGE = b'{"stations": [' + b'{"code": "02000", "name": "Portal Norte"},' * 200 + b"{}]}"


def answer(
    parts: list[bytes], status: int = 200, content_type: bytes = b"application/json", **extra: bytes
) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type), *((k.encode(), v) for k, v in extra.items())]
        if len(parts) == 1:
            headers.append((b"content-length", str(len(parts[0])).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for index, part in enumerate(parts):
            more = index < len(parts) - 1
            await send({"type": "http.response.body", "body": part, "more_body": more})

    return app


ANSWERS: dict[str, Callable[[], ASGIApp]] = {
    "small": lambda: answer([SMALL]),
    "large": lambda: answer([LARGE]),
    "streamed": lambda: answer([LARGE[:600], LARGE[600:]]),
    "small first part of a stream": lambda: answer([SMALL, LARGE]),
    "already encoded": lambda: answer([LARGE], **{"content-encoding": b"br"}),
    "an image": lambda: answer([LARGE], content_type=b"image/png"),
    "partial": lambda: answer([LARGE], status=206),
}


async def sent(layer: ASGIApp, accept: bytes | None) -> list[Message]:
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    headers = [(b"host", b"testserver")]
    if accept is not None:
        headers.append((b"accept-encoding", accept))
    scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    await layer(scope, receive, send)
    return messages


@pytest.mark.parametrize("kind", list(ANSWERS))
@pytest.mark.parametrize("accept", [b"gzip, deflate, br", b"identity", None])
async def test_every_answer_is_sent_as_starlette_sends_it(kind: str, accept: bytes | None) -> None:
    ours = await sent(Compression(ANSWERS[kind](), minimum_size=MINIMUM, compresslevel=6), accept)
    theirs = await sent(
        GZipMiddleware(ANSWERS[kind](), minimum_size=MINIMUM, compresslevel=6), accept
    )
    assert ours == theirs


async def test_a_large_answer_is_gzipped_for_a_client_that_accepts_it() -> None:
    """The comparison above could pass with both layers broken alike: the bytes themselves."""
    start, body = await sent(
        Compression(answer([LARGE]), minimum_size=MINIMUM, compresslevel=6), b"gzip"
    )
    headers = dict(start["headers"])
    assert headers[b"content-encoding"] == b"gzip"
    assert headers[b"vary"] == b"Accept-Encoding"
    assert gzip.decompress(body["body"]) == LARGE
    assert int(headers[b"content-length"]) == len(body["body"]) < len(LARGE)


async def test_a_small_answer_goes_out_untouched() -> None:
    start, body = await sent(
        Compression(answer([SMALL]), minimum_size=MINIMUM, compresslevel=6), b"gzip"
    )
    assert start["headers"] == [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(SMALL)).encode()),
    ]
    assert body["body"] == SMALL
