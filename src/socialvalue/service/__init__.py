"""The REST API and dashboard: ``socialvalue serve STORE`` (FastAPI + uvicorn, extra ``[service]``).

Reads come from the snapshot each run publishes (:mod:`socialvalue.published`), so they keep answering while
a run or a load writes the store; writes go through one writer. See ``docs/api.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI

    from socialvalue.service.settings import ServeSettings

__all__ = ["create_app", "serve"]


def create_app(settings: ServeSettings) -> FastAPI:
    """The FastAPI application for ``settings`` (see :func:`socialvalue.service.app.create_app`)."""
    from socialvalue.service.app import create_app as build

    return build(settings)


def serve(settings: ServeSettings, **uvicorn_options: Any) -> None:
    """Run the API with uvicorn until interrupted (access log: route templates only, never ids or keys)."""
    import logging

    import uvicorn

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("socialvalue.service", "socialvalue.published"):
        log = logging.getLogger(name)
        log.setLevel(logging.INFO)
        log.propagate = False
        if not log.handlers:
            log.addHandler(handler)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,  # ours (AccessLog) names the route, not the path that may hold an id
        log_level="warning",
        server_header=False,
        **uvicorn_options,
    )
