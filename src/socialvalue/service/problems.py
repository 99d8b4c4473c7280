"""One error shape: RFC 9457 problem details, for every error the API returns.

Handlers turn every exception into ``application/problem+json``: problems raised on purpose
(:class:`Problem`), Starlette's HTTP errors (unknown routes, wrong methods), request validation errors, the
library's own errors, and, as a last resort, anything unexpected, which becomes a ``500`` that says nothing
of the code (the traceback goes to the server's log, never to the client).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from socialvalue.errors import ConfigError, SchemaError, SocialValueError, UnknownCustomerError

__all__ = ["PROBLEM_BASE", "Problem", "install_handlers", "problem_response"]

logger = logging.getLogger(__name__)

#: Prefix of every problem ``type`` (a documentation anchor, not fetched by clients).
PROBLEM_BASE = "https://socialvalue.dev/problems/"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Unavailable",
}

#: Keys of the loaders' problem records renamed in an API problem's ``errors``.
_ERROR_KEYS = {"source": "file"}


class Problem(Exception):
    """An error to return as a problem document.

    Parameters
    ----------
    status
        HTTP status.
    slug
        The problem ``type`` after :data:`PROBLEM_BASE` (``not-found``, ``validation``...).
    detail
        One line: what is wrong and how to fix it.
    headers
        Extra response headers (``Retry-After``, ``WWW-Authenticate``).
    extra
        Extension members (``errors``...).
    """

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    slug: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The problem document for ``status`` as a response."""
    body = {
        "type": PROBLEM_BASE + slug,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path if len(request.url.path) <= 200 else request.url.path[:200],
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def _slug(status: int) -> str:
    return _TITLES.get(status, "error").lower().replace(" ", "-")


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        value = err.get("input")
        if not isinstance(value, str | int | float | bool | type(None)):
            value = None
        elif isinstance(value, str) and len(value) > 200:
            value = value[:200] + "…"
        out.append(
            {
                "where": loc[0] if loc else "request",
                "column": ".".join(loc[1:]) or None,
                "value": value,
                "expected": err.get("msg", "a valid value"),
            }
        )
    return out


def install_handlers(app: FastAPI) -> None:
    """Register the problem-document handlers on ``app``."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.slug, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no such resource; see /docs for the endpoints"
        return problem_response(request, exc.status_code, _slug(exc.status_code), detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"where": "request", "column": None, "expected": "a valid request"}
        where = first["column"] or first["where"]
        detail = f"invalid {first['where']} parameter {where!r}: {first['expected']}"
        return problem_response(request, 422, "validation", detail, errors=errors)

    @app.exception_handler(SchemaError)
    async def _schema(request: Request, exc: SchemaError) -> JSONResponse:
        first = (str(exc).strip().splitlines() or ["the input does not fit the schema"])[0]
        # the loaders name the file ``source``; the API's problem documents call it ``file`` (docs/api.md)
        problems = [{_ERROR_KEYS.get(k, k): _plain(v) for k, v in p.items()} for p in exc.problems]
        return problem_response(request, 422, "validation", first, errors=problems)

    @app.exception_handler(UnknownCustomerError)
    async def _unknown(request: Request, exc: UnknownCustomerError) -> JSONResponse:
        return problem_response(request, 404, "not-found", "no such customer")

    @app.exception_handler(ConfigError)
    async def _config(request: Request, exc: ConfigError) -> JSONResponse:
        return problem_response(request, 422, "validation", _line(exc))

    @app.exception_handler(SocialValueError)
    async def _ours(request: Request, exc: SocialValueError) -> JSONResponse:
        return problem_response(request, 409, "conflict", _line(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error(
            "unexpected %s on %s %s", type(exc).__name__, request.method, _route(request), exc_info=exc
        )
        return problem_response(request, 500, "internal", "the server failed; the error is in its log")


def _line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    return str(value)


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "(no route)")
