"""The FastAPI application: reads from the published snapshot, writes through one writer, one error shape.

:func:`create_app` builds the app for a :class:`~socialvalue.service.settings.ServeSettings`. Endpoints and
their JSON are described in ``docs/api.md`` and, typed, at ``/openapi.json``.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from socialvalue.published import serving_dir
from socialvalue.schema import KINDS
from socialvalue.service import queries
from socialvalue.service.jobs import Writer
from socialvalue.service.keys import ApiKey, KeyRing
from socialvalue.service.middleware import AccessLog, BodyLimit
from socialvalue.service.problems import Problem, install_handlers
from socialvalue.service.schemas import (
    ActionsOut,
    ChangesOut,
    CustomerOut,
    CustomerPage,
    ErasureOut,
    ExperimentsOut,
    HealthOut,
    InfluencersOut,
    IngestOut,
    InsightOut,
    OverviewOut,
    ProblemOut,
    RunIn,
    RunJobOut,
    RunsOut,
    SegmentsOut,
)
from socialvalue.service.settings import ServeSettings
from socialvalue.service.snapshots import Snapshot, SnapshotReader

__all__ = ["create_app"]

logger = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
#: Body types ``POST /ingest/{kind}`` takes -> the file suffix the loader reads.
BODY_TYPES = {
    "text/csv": ".csv",
    "application/csv": ".csv",
    "application/vnd.apache.parquet": ".parquet",
    "application/x-parquet": ".parquet",
    "application/json": ".json",
    "application/x-ndjson": ".ndjson",
}


class RateLimiter:
    """A token bucket per key: ``per_minute`` tokens, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_time(self, key_id: str) -> float:
        """0 if a request may pass now (and take a token), else seconds until one may."""
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / self.rate


class State:
    """What the routes share: settings, keys, the snapshot reader, the writer, the limiter."""

    def __init__(self, settings: ServeSettings) -> None:
        from socialvalue.privacy import pseudonym_key

        self.settings = settings
        self.store = Path(os.path.abspath(settings.store))
        self.keys = KeyRing(serving_dir(self.store))
        key = pseudonym_key() if settings.pseudonymize else None
        self.reader = SnapshotReader(self.store, key)
        self.writer = Writer(self.store, settings.run_nice, self.reader.refresh)
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self.cursor_secret = secrets.token_bytes(32)


def _presented(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def _role(role: str) -> Any:
    def check(request: Request) -> ApiKey:
        state: State = request.app.state.sv
        key = state.keys.verify(_presented(request))
        if key is None:
            raise Problem(
                401,
                "unauthorized",
                "a valid API key is needed: send it as 'Authorization: Bearer <key>' (create one with "
                "`socialvalue keys create STORE --role read`)",
                headers={"WWW-Authenticate": 'Bearer realm="socialvalue"'},
            )
        request.state.key_id = key.key_id
        if not key.allows(role):
            raise Problem(403, "forbidden", f"this key's role is {key.role}; this needs {role} or above")
        wait = state.limiter.wait_time(key.key_id)
        if wait > 0:
            raise Problem(
                429,
                "rate-limited",
                f"this key made more than {state.settings.rate_limit_per_minute} requests in a minute; "
                f"retry in {wait:.1f} s",
                headers={"Retry-After": str(max(1, int(wait + 0.999)))},
            )
        return key

    return Depends(check)


READ = _role("read")
WRITE = _role("write")


@contextmanager
def _snapshot(request: Request, name: str | None = None) -> Iterator[tuple[Any, Snapshot]]:
    state: State = request.app.state.sv
    with state.reader.pin(name) as snap:
        if snap is None:
            if name is not None:
                raise Problem(
                    410,
                    "gone",
                    "the run this cursor pages through is no longer served; start the listing again",
                )
            raise Problem(
                404, "not-published", "no run is published yet: run `socialvalue run` or POST /runs first"
            )
        yield state.reader.cursor(), snap


def _csv(columns: list[str], rows: list[tuple[Any, ...]] | list[dict[str, Any]], filename: str) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        values = [row.get(c) for c in columns] if isinstance(row, dict) else list(row)
        writer.writerow(
            [
                "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v
                for v in values
            ]
        )
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


Text = Annotated[str | None, Query(max_length=200)]
#: Every error response, in the OpenAPI description.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemOut"}}},
        "description": text,
    }
    for code, text in (
        (400, "bad request"), (401, "no valid API key"), (403, "the key's role is too low"),
        (404, "not found"), (409, "the store is being written"), (410, "the paged run is gone"),
        (413, "body too large"), (415, "unsupported body type"), (422, "invalid input"),
        (429, "rate limited"),
    )
}  # fmt: skip


def create_app(settings: ServeSettings) -> FastAPI:
    """The API and dashboard for ``settings.store``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        state = State(settings)
        app.state.sv = state
        state.reader.start(settings.poll_seconds)
        try:
            yield
        finally:
            state.writer.close()
            state.reader.close()

    app = FastAPI(
        title="socialvalue",
        summary="What each customer is worth, through purchases and through other people.",
        version=_version(),
        lifespan=lifespan,
        responses=PROBLEMS,
        docs_url=None,  # FastAPI's pages load Swagger UI / ReDoc from a CDN; ours work offline
        redoc_url=None,
    )
    install_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=int(settings.max_body_mb * 1024 * 1024))
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    app.add_middleware(AccessLog)
    if STATIC.is_dir():
        app.mount("/dashboard", StaticFiles(directory=STATIC, html=True), name="dashboard")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    @app.get("/docs", include_in_schema=False)
    def docs() -> RedirectResponse:
        """The API's documentation, rendered offline from ``/openapi.json``."""
        return RedirectResponse("/dashboard/docs.html")

    @app.get("/health", response_model=HealthOut, tags=["service"])
    def health(request: Request) -> dict[str, Any]:
        """Liveness and the run being served (no key needed)."""
        snap = request.app.state.sv.reader.current
        published = None if snap is None else {"run_id": snap.meta["run_id"], "as_of": snap.meta["as_of"]}
        return {"status": "ok", "published": published}

    @app.get("/overview", response_model=OverviewOut, tags=["reads"], dependencies=[READ])
    def overview(request: Request) -> dict[str, Any]:
        """KPIs, the value distribution, segments, stages and the champion models with their margins."""
        with _snapshot(request) as (cur, snap):
            return queries.overview(cur, snap)

    @app.get("/changes", response_model=ChangesOut, tags=["reads"], dependencies=[READ])
    def changes(request: Request) -> dict[str, Any]:
        """Stage transitions, slipping customers and value moved since the previous scoring date."""
        with _snapshot(request) as (cur, snap):
            return queries.changes(cur, snap)

    @app.get("/customers/{customer_id:path}", response_model=CustomerOut, tags=["reads"], dependencies=[READ])
    def customer(request: Request, customer_id: str) -> dict[str, Any]:
        """One customer: scores, value decomposition, segment, stage, churn and its reasons, action, history."""
        with _snapshot(request) as (cur, snap):
            found = queries.customer_detail(cur, snap, customer_id)
        if found is None:
            raise Problem(404, "not-found", "no such customer in the published run")
        return found

    @app.get(
        "/customers",
        response_model=CustomerPage,
        tags=["reads"],
        dependencies=[READ],
        responses={200: {"content": {"text/csv": {}}, "description": "one page, or the whole list as CSV"}},
    )
    def customers(
        request: Request,
        segment: Text = None,
        stage: Text = None,
        tier: Text = None,
        action: Text = None,
        min_value: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        max_value: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        influencer: bool | None = None,
        churn_alert: bool | None = None,
        sort: Literal[
            "value",
            "-value",
            "clv",
            "-clv",
            "social_value",
            "-social_value",
            "churn_risk",
            "-churn_risk",
            "customer_id",
            "-customer_id",
        ] = "-value",
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(max_length=4000)] = None,
        format: Literal["json", "csv"] = "json",
    ) -> Any:
        """Customers of the published run, filtered and sorted, in stable keyset pages."""
        state: State = request.app.state.sv
        filters = {
            "segment": segment, "stage": stage, "tier": tier, "action": action, "min_value": min_value,
            "max_value": max_value, "influencer": influencer, "churn_alert": churn_alert,
        }  # fmt: skip
        after, name = None, None
        if cursor is not None:
            payload = queries.unsign(state.cursor_secret, cursor)
            if payload is None or payload.get("f") != filters or payload.get("o") != sort:
                raise Problem(
                    400, "bad-cursor", "this cursor was not issued for this listing; start without a cursor"
                )
            after, name = (payload["k"], payload["i"]), payload["s"]
        with _snapshot(request, name) as (cur, snap):
            if format == "csv":
                rows, _ = queries.customer_page(cur, snap, filters, sort, None)
                return _csv(
                    ["customer_id", *queries.LIST_COLUMNS], rows, f"customers-{snap.meta['as_of']}.csv"
                )
            rows, last = queries.customer_page(cur, snap, filters, sort, limit, after)
            nxt = None
            if last is not None:
                nxt = queries.sign(
                    state.cursor_secret, {"s": snap.name, "k": last[0], "i": last[1], "o": sort, "f": filters}
                )
            return {
                "run_id": snap.meta["run_id"],
                "as_of": snap.meta["as_of"],
                "items": rows,
                "next_cursor": nxt,
            }

    @app.get("/segments", response_model=SegmentsOut, tags=["reads"], dependencies=[READ])
    def segments(request: Request) -> dict[str, Any]:
        """Customers, value and churn alerts per segment; counts per stage and tier."""
        with _snapshot(request) as (cur, snap):
            return queries.segments(cur, snap)

    @app.get("/influencers", response_model=InfluencersOut, tags=["reads"], dependencies=[READ])
    def influencers(request: Request, k: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, Any]:
        """The top ``k`` influencers and the follow edges among them."""
        with _snapshot(request) as (cur, snap):
            return queries.influencers(cur, snap, k)

    @app.get("/insight", response_model=InsightOut, tags=["reads"], dependencies=[READ])
    def insight(request: Request) -> dict[str, Any]:
        """Acquisition channels, sign-up cohorts and their lifecycle mix, and shares, each with its meaning."""
        with _snapshot(request) as (cur, snap):
            return queries.insight(cur, snap)

    @app.get(
        "/actions",
        response_model=ActionsOut,
        tags=["reads"],
        dependencies=[READ],
        responses={200: {"content": {"text/csv": {}}, "description": "the summary, or the audience as CSV"}},
    )
    def actions(
        request: Request,
        format: Literal["json", "csv"] = "json",
        action: Text = None,
    ) -> Any:
        """Each action's audience size and value; ``format=csv``: the audience itself."""
        with _snapshot(request) as (cur, snap):
            if format == "csv":
                cols, rows = queries.audience_rows(cur, snap, action)
                name = f"audience-{action or 'all'}-{snap.meta['as_of']}.csv"
                safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
                return _csv(cols, rows, safe)
            return queries.actions_summary(cur, snap)

    @app.get("/experiments", response_model=ExperimentsOut, tags=["reads"], dependencies=[READ])
    def experiments(request: Request) -> dict[str, Any]:
        """Whether each action paid: uplift per action and segment against its control group, with intervals."""
        with _snapshot(request) as (cur, snap):
            return queries.experiments(cur, snap)

    @app.get("/runs", response_model=RunsOut, tags=["runs"], dependencies=[READ])
    def runs(request: Request) -> dict[str, Any]:
        """Every run: this server's queued and running jobs, then the published run records, newest first."""
        state: State = request.app.state.sv
        with state.reader.pin() as snap:
            records = queries.runs(state.reader.cursor(), snap)
        known = {r["run_id"] for r in records}
        jobs = [j.public() for j in reversed(state.writer.jobs.values()) if j.run_id not in known]
        return {"items": jobs + records}

    @app.get("/runs/{run_id}", response_model=RunJobOut, tags=["runs"], dependencies=[READ])
    def run(request: Request, run_id: Annotated[str, PathParam(max_length=64)]) -> dict[str, Any]:
        """One run: its progress while it runs, its record (champions, diagnostics, timings) once published."""
        state: State = request.app.state.sv
        job = state.writer.jobs.get(run_id)
        with state.reader.pin() as snap:
            records = {r["run_id"]: r for r in queries.runs(state.reader.cursor(), snap)}
        record = records.get(run_id)
        if record is not None:
            if record.get("diagnostics"):
                record["champions"] = record["diagnostics"].get("champions")
            return {**(job.public() if job else {}), **record, "status": "finished"}
        if job is not None:
            return job.public()
        raise Problem(404, "not-found", "no such run")

    @app.post(
        "/runs",
        response_model=RunJobOut,
        status_code=202,
        tags=["runs"],
        dependencies=[WRITE],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunIn"}}},
            }
        },
    )
    async def start_run(request: Request) -> dict[str, Any]:
        """Rescore as of a date in the background; follow it at ``GET /runs/{id}``."""
        # the body is read here, after the key check: a parameter model would be parsed first (422, not 401)
        try:
            body = RunIn.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
            ) from None
        return request.app.state.sv.writer.submit(body.as_of).public()

    @app.post("/ingest/{kind}", response_model=IngestOut, tags=["writes"], dependencies=[WRITE])
    async def ingest(request: Request, kind: str) -> dict[str, Any]:
        """Load a CSV, Parquet or JSON body into a canonical table with the CLI's validation (all or nothing)."""
        if kind not in KINDS:
            raise Problem(404, "not-found", f"no table {kind[:50]!r}: one of {', '.join(KINDS)}")
        ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        suffix = BODY_TYPES.get(ctype)
        if suffix is None:
            raise Problem(
                415,
                "unsupported-media-type",
                f"send the file as one of {', '.join(sorted(BODY_TYPES))} (Content-Type), not {ctype[:80]!r}",
            )
        folder = tempfile.mkdtemp(prefix="socialvalue-ingest-")
        try:
            path = Path(folder) / f"{kind}{suffix}"
            size = 0
            with open(path, "wb") as fh:
                async for chunk in request.stream():
                    size += len(chunk)
                    fh.write(chunk)
            if size == 0:
                raise Problem(422, "validation", "the request body is empty: send the file as the body")
            return await run_in_threadpool(_ingest, request.app.state.sv, kind, path)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @app.delete(
        "/customers/{customer_id:path}", response_model=ErasureOut, tags=["writes"], dependencies=[WRITE]
    )
    def erase(request: Request, customer_id: str) -> dict[str, Any]:
        """Erase a customer everywhere: the store, exports, reports and every published snapshot."""
        from socialvalue.privacy import erase_customer
        from socialvalue.store import Store

        state: State = request.app.state.sv
        raw = customer_id
        if state.reader.pseudonym_key is not None:
            with _snapshot(request) as (cur, snap):
                raw = queries.resolve_id(cur, snap, customer_id)
            if raw is None:
                raise Problem(404, "not-found", "no such customer in the published run")
        with state.writer.exclusive("an erasure"), Store(state.store) as store:
            report = erase_customer(store, raw)
        state.reader.refresh()
        return {"erased": True, "erasure_id": report.erasure_id, "rows_removed": report.rows_removed}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            named = schema.setdefault("components", {}).setdefault("schemas", {})
            # named here: POST /runs reads its body itself; errors are documented as problem+json only
            for model in (RunIn, ProblemOut):
                named[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _ingest(state: State, kind: str, path: Path) -> dict[str, Any]:
    from socialvalue.errors import SchemaError
    from socialvalue.ingest.load import ingest
    from socialvalue.store import Store

    with state.writer.exclusive(f"a load into {kind}"), Store(state.store) as store:
        try:
            report = ingest(store, kind, path)
        except SchemaError as exc:
            # the body was saved to a temporary file: its path means nothing to the client
            def named(v: Any) -> Any:
                return v.replace(str(path), "body").replace(path.name, "body") if isinstance(v, str) else v

            raise SchemaError(
                named(str(exc)), [{k: named(v) for k, v in p.items()} for p in exc.problems]
            ) from None
    return {
        "kind": kind,
        "rows_in": report.rows_in,
        "rows_inserted": report.inserted,
        "rows_updated": report.updated,
        "rows_unchanged": report.unchanged,
        "skipped": report.skipped,
    }


def _version() -> str:
    from socialvalue._version import __version__

    return __version__
