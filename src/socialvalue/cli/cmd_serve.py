"""The REST API: ``socialvalue serve`` and its API keys (``socialvalue keys create|list|revoke``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socialvalue.cli import app, console, out

StoreArg = Annotated[Path, typer.Argument(help="DuckDB store file.", show_default=False)]

keys_app = typer.Typer(
    help="API keys of `socialvalue serve` (stored hashed beside the store).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")


def _store(path: Path) -> Path:
    from socialvalue.errors import StoreError

    if not path.is_file():
        raise StoreError(
            f"store {str(path)!r} does not exist (create it with `socialvalue init` or `socialvalue demo`)"
        )
    return path


def _publish_if_missing(path: Path) -> None:
    """A store scored before snapshots existed: publish its latest run once, if no writer holds it."""
    from socialvalue.errors import StoreError
    from socialvalue.published import current_snapshot, publish, serving_dir
    from socialvalue.store import Store

    if current_snapshot(serving_dir(path)) is not None:
        return
    try:
        with Store(path) as store:
            published = publish(store)
    except StoreError as exc:
        console.print(f"note: {exc}", markup=False, highlight=False)
        return
    if published is None:
        console.print(
            "note: no run is published yet; the API answers 404 until `socialvalue run`", markup=False
        )


@app.command("serve")
def serve(
    store: StoreArg,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="Allow browser calls from this origin (repeatable)."),
    ] = None,
    max_body_mb: Annotated[float, typer.Option("--max-body-mb", help="Largest request body.")] = 64.0,
    rate_limit: Annotated[int, typer.Option("--rate-limit", help="Requests per minute per key.")] = 6000,
    pseudonymize: Annotated[
        bool,
        typer.Option(
            "--pseudonymize", help="Show HMAC pseudonyms instead of customer ids (SOCIALVALUE_PSEUDONYM_KEY)."
        ),
    ] = False,
) -> None:
    """Serve the scores, explanations and actions of the last published run, and the dashboard.

    Reads keep answering while a run or a load writes the store: every run publishes a read-only snapshot
    that the server swaps in. Create a key first: socialvalue keys create STORE --role read

    Example: socialvalue serve shop.duckdb --host 127.0.0.1 --port 8000
    """
    from socialvalue.config import validate_config
    from socialvalue.service import serve as run_server
    from socialvalue.service.settings import ServeSettings

    settings = validate_config(
        ServeSettings,
        {
            "store": _store(store),
            "host": host,
            "port": port,
            "cors_origins": cors_origin or [],
            "max_body_mb": max_body_mb,
            "rate_limit_per_minute": rate_limit,
            "pseudonymize": pseudonymize,
        },
        "the serve options",
    )
    if pseudonymize:
        from socialvalue.privacy import pseudonym_key

        pseudonym_key()  # refuse now, with the variable's name, rather than at the first request
    _publish_if_missing(settings.store)
    if not settings.loopback:
        console.print(
            f"warning: listening on {host}, not loopback: put TLS in front (a reverse proxy) before exposing it",
            markup=False,
        )
    console.print(
        f"serving {store} on http://{host}:{port} (dashboard /dashboard/, docs /docs)", markup=False
    )
    run_server(settings)


@keys_app.command("create")
def keys_create(
    store: StoreArg,
    role: Annotated[str, typer.Option("--role", help="read, write or admin.")] = "read",
    name: Annotated[str, typer.Option("--name", help="A label (who or what uses it).")] = "",
) -> None:
    """Create an API key and print it once: only its hash is kept."""
    from socialvalue.published import serving_dir
    from socialvalue.service.keys import KeyRing

    record, key = KeyRing(serving_dir(_store(store))).create(role, name)
    console.print(f"created key {record.key_id} (role {record.role}); it is shown only now:", markup=False)
    out.print(key, markup=False, highlight=False)


@keys_app.command("list")
def keys_list(store: StoreArg) -> None:
    """List the keys (id, role, name, creation time; never the keys)."""
    from socialvalue.published import serving_dir
    from socialvalue.service.keys import KeyRing

    for k in KeyRing(serving_dir(_store(store))).list():
        out.print(f"{k.key_id}\t{k.role}\t{k.created_at}\t{k.name}", markup=False, highlight=False)


@keys_app.command("revoke")
def keys_revoke(
    store: StoreArg, key_id: Annotated[str, typer.Argument(help="The key's id (8 hex digits).")]
) -> None:
    """Revoke a key: a running server refuses it from its next request."""
    from socialvalue.errors import ConfigError
    from socialvalue.published import serving_dir
    from socialvalue.service.keys import KeyRing

    if not KeyRing(serving_dir(_store(store))).revoke(key_id):
        raise ConfigError(f"no key {key_id!r} (see `socialvalue keys list`)")
    console.print(f"revoked key {key_id}", markup=False)
