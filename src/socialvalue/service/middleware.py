"""ASGI middleware of the API: the request size limit and the access log (no personal field, no key)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = ["AccessLog", "BodyLimit"]

access = logging.getLogger("socialvalue.service.access")


class _TooLarge(Exception):
    pass


def _problem(status: int, slug: str, title: str, detail: str, path: str) -> tuple[dict[str, Any], bytes]:
    body = json.dumps(
        {
            "type": f"https://socialvalue.dev/problems/{slug}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path[:200],
        }
    ).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return start, body


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with a ``413`` problem.

    By ``Content-Length`` before reading, and by counting while a body without one streams in.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"the request body is larger than the limit of {self.max_bytes:,} bytes"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = True
                if too_large:
                    start, body = _problem(
                        413, "content-too-large", "Content too large", detail, scope["path"]
                    )
                    await send(start)
                    await send({"type": "http.response.body", "body": body})
                    return
        seen = 0
        started = exceeded = replaced = False

        async def counted() -> dict[str, Any]:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def refuse() -> None:
            nonlocal replaced
            if not replaced:
                replaced = True
                start, body = _problem(413, "content-too-large", "Content too large", detail, scope["path"])
                await send(start)
                await send({"type": "http.response.body", "body": body})

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            if exceeded and not started:
                # the app caught _TooLarge and answers something else (FastAPI turns any failure while it
                # reads a JSON body into a 400): the client gets the 413 instead
                await refuse()
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await refuse()


class AccessLog:
    """One line per request: method, route template, status, milliseconds, the key's id.

    The route template (``/customers/{customer_id}``), never the path: a path can hold a customer id. No query
    string, no header, no body, no key.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 0

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            route = getattr(scope.get("route"), "path", None) or "(unmatched)"
            key = (scope.get("state") or {}).get("key_id", "-")
            access.info(
                "%s %s %d %.1fms key=%s",
                scope.get("method"),
                route,
                status,
                1000 * (time.perf_counter() - t0),
                key,
            )
