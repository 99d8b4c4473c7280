"""A real API server for the service tests: a demo store scored twice, keys of each role, uvicorn on loopback.

``served`` is shared by the read tests and the dashboard tests and is never written to; ``served_rw`` is a
second server on its own store for the tests that ingest, rescore and erase.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

#: The two scoring dates of the served store (the second is the published run).
AS_OF_BEFORE, AS_OF = "2026-04-01", "2026-07-01"
CUSTOMERS = 3000


@dataclass
class Served:
    """A running server: its base URL, one key per role, the store, the process."""

    url: str
    keys: dict[str, str]
    store: Path
    proc: subprocess.Popen
    log: Path
    extra: dict = field(default_factory=dict)

    def client(self, role: str | None = "read", **kw) -> httpx.Client:
        """An httpx client for the server, sending the key of ``role`` (None: no key)."""
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    """Run the real `socialvalue` command."""
    return subprocess.run(
        [sys.executable, "-m", "socialvalue.cli", *args], capture_output=True, text=True, timeout=600
    )


def make_store(
    path: Path, customers: int = CUSTOMERS, dates: tuple[str, ...] = (AS_OF_BEFORE, AS_OF)
) -> Path:
    """A demo store (seed 7) scored at each of ``dates``; each run publishes its snapshot."""
    from socialvalue import Store
    from socialvalue.demo import generate
    from socialvalue.pipeline import run_pipeline

    with Store(path) as store:
        generate(customers, seed=7).load_into(store)
        for d in dates:
            run_pipeline(store, d)
    return path


def start(store: Path, *options: str, env: dict | None = None) -> Served:
    """Create a key per role with the CLI and start `socialvalue serve` on a free loopback port."""
    keys = {}
    for role in ("read", "write", "admin"):
        done = cli("keys", "create", str(store), "--role", role, "--name", f"tests {role}")
        assert done.returncode == 0, done.stderr
        keys[role] = done.stdout.strip()
    port = free_port()
    log = store.with_suffix(".serve.log")
    with open(log, "wb") as err:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "socialvalue.cli", "serve", str(store), "--port", str(port), *options],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **(env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).json().get("published"):
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    return Served(url, keys, store, proc, log)


def stop(served: Served) -> None:
    served.proc.terminate()
    try:
        served.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        served.proc.kill()


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """A server on a demo store scored at 2026-04-01 and 2026-07-01; tests must not write to it."""
    store = make_store(tmp_path_factory.mktemp("served") / "shop.duckdb")
    s = start(store)
    yield s
    stop(s)


@pytest.fixture(scope="module")
def served_rw(tmp_path_factory):
    """A server of its own, for tests that ingest, rescore and erase."""
    store = make_store(tmp_path_factory.mktemp("served_rw") / "shop.duckdb")
    s = start(store)
    yield s
    stop(s)


@pytest.fixture(scope="module")
def start_server():
    """``start_server(store, *serve_options, env=None) -> Served``; every server it started stops after the module."""
    started: list[Served] = []

    def run(store: Path, *options: str, env: dict | None = None) -> Served:
        s = start(store, *options, env=env)
        started.append(s)
        return s

    yield run
    for s in started:
        stop(s)


@pytest.fixture(scope="module")
def store_factory(tmp_path_factory):
    """``store_factory(customers=800, dates=(AS_OF_BEFORE, AS_OF)) -> Path``: a new scored demo store."""

    def build(customers: int = 800, dates: tuple[str, ...] = (AS_OF_BEFORE, AS_OF)) -> Path:
        return make_store(tmp_path_factory.mktemp("store") / "shop.duckdb", customers, dates)

    return build


@pytest.fixture(scope="session")
def run_cli():
    """The real `socialvalue` command: ``run_cli(*args) -> CompletedProcess``."""
    return cli
