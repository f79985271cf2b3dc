"""Gzip for large answers, at no cost to the small ones.

Starlette's GZipMiddleware wraps every answer's messages in a responder object that parses
the request's and the answer's headers before it knows the body's size, even though a body
under its minimum size is sent as it is either way. Most of our answers are small (a
balance, a tap, a station): that wrapping cost ~6 µs per answer, this layer ~1 µs (in
process, three rounds; a cached read costs a worker ~150 µs in all). This layer holds the
start of an answer until its first body part: a whole body under the minimum goes out
untouched, exactly as Starlette would send it; anything else is handed to Starlette's own
responder, which decides and compresses as it always has.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Compression:
    def __init__(self, app: ASGIApp, *, minimum_size: int, compresslevel: int) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        responder: IdentityResponder | None = None

        async def send_answer(message: Message) -> None:
            nonlocal start, responder
            if responder is not None:
                await responder.send_with_compression(message)
            elif message["type"] == "http.response.start":
                start = message
            elif start is not None and _small_and_whole(message, self.minimum_size):
                await send(start)
                await send(message)
                start = None
            else:
                responder = self._responder(scope, send)
                if start is not None:
                    await responder.send_with_compression(start)
                await responder.send_with_compression(message)

        await self.app(scope, receive, send_answer)

    def _responder(self, scope: Scope, send: Send) -> IdentityResponder:
        """Starlette's responder for this request, attached to `send` (what its own
        __call__ does before it runs the app)."""
        responder: IdentityResponder
        if "gzip" in Headers(scope=scope).get("Accept-Encoding", ""):
            responder = GZipResponder(self.app, self.minimum_size, self.compresslevel)
        else:
            responder = IdentityResponder(self.app, self.minimum_size)
        responder.send = send
        return responder


def _small_and_whole(message: Message, minimum_size: int) -> bool:
    return (
        message["type"] == "http.response.body"
        and not message.get("more_body", False)
        and len(message.get("body", b"")) < minimum_size
    )
