"""REST API under load (issue 17): ``GET /customers/{id}`` latency and throughput, quiet and during a run.

The issue's target: with 64 concurrent clients on a 1M-customer store, p99 < 20 ms without a rescoring run,
< 50 ms during one, and 0 errors.

What it does:

1. Builds a store (``socialvalue.demo.generate(n, seed=7).load_into(store)``, then
   ``run_pipeline(store, "2026-07-01")``, which publishes the snapshot the server reads; in a child process,
   so this process stays small), or reuses ``--store PATH`` (built there if the file does not exist).
2. Creates a read key and a write key (``socialvalue keys create``) and starts the real server as a child
   process, ``socialvalue serve STORE --host 127.0.0.1 --port <free port>``, with the per-key rate limit
   raised past the load (the benchmark measures look-ups, not the limiter's 429s).
3. Drives it from 64 keep-alive connections with a small asyncio HTTP/1.1 client written here (httpx costs
   more CPU per request than the server on a 2-core machine the two share), in two ways:

   * **open loop**: request ``i`` is due at ``t0 + i / rate`` (aggregate ``--rate``); whichever of the 64
     connections is free sends it, and its latency counts from the time it was due, so a slow server is not
     excused by the client waiting for it (no coordinated omission);
   * **closed loop** (saturation): each connection sends its next request when the previous one is answered.
     Its throughput is the server's capacity; its latency is then bound to it by Little's law, latency ~
     64 / throughput, so the closed-loop p99 says how long a queue of 64 takes, not how fast one look-up is.

   Both run quiet, then again while ``POST /runs`` rescores the store as of ``--run-as-of`` (measured while
   ``GET /runs/{id}`` says ``running``); then a short closed loop after the run checks that the server
   serves the new run.
4. Counts errors: statuses other than 200, timeouts, broken connections, and wrong bodies: every body's
   ``as_of`` must be the published run's (the old or, from the run's publication on, the new one; never
   anything else), and one body in ``--check-every`` is parsed whole: its ``customer_id`` must be the one
   asked for and its history must hold no scoring date after its own ``as_of`` (no response mixes two runs).

Traffic goes to loopback only (any other host is refused) and every phase is bounded by ``--requests`` and
``--seconds``; the wait for the run by ``--run-timeout``. Customer ids are drawn (seeded) from the store's
``scores``. The server's peak RSS (``VmHWM``) and the run's child process's peak RSS (psutil, sampled) are
reported, as are the CPU seconds the client, the server and the run used in each phase.

Usage::

    .venv/bin/python benchmarks/api_load.py --customers 20000 --seconds 10      # a quick check
    .venv/bin/python benchmarks/api_load.py --store /tmp/api1m/store.duckdb --json /tmp/api1m/load.json

Prints a table; ``--json PATH`` writes every figure. The exit code is 1 when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import ipaddress
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import numpy as np
import psutil

#: The issue's targets: p99 of the open loop in ms, quiet and during a run.
TARGET_P99_MS = {"quiet": 20.0, "during run": 50.0}
BASE_AS_OF = "2026-07-01"
AS_OF_RE = re.compile(rb'"as_of"\s*:\s*"([^"]*)"')


# --------------------------------------------------------------------------------------------- loopback only


def require_loopback(host: str) -> None:
    """Refuse a host any of whose addresses is not a loopback address (``127.0.0.0/8``, ``::1``)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise SystemExit(f"cannot resolve host {host!r}: {exc}") from None
    addresses = {info[4][0] for info in infos}
    bad = sorted(a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback)
    if not addresses or bad:
        raise SystemExit(f"refusing host {host!r}: this benchmark sends traffic to loopback only ({bad})")


# --------------------------------------------------------------------------------------- HTTP/1.1 client


class HTTPError(Exception):
    """The server broke the HTTP exchange (malformed answer, closed connection)."""


class Connection:
    """One keep-alive HTTP/1.1 connection: one request at a time, reconnecting after a close or an error.

    Parameters
    ----------
    host, port
        The server (loopback only: checked here as well as by the caller).
    key
        API key sent as ``Authorization: Bearer``; None for none.
    """

    def __init__(self, host: str, port: int, key: str | None = None) -> None:
        require_loopback(host)
        self.host, self.port = host, port
        auth = f"Authorization: Bearer {key}\r\n" if key else ""
        self._headers = f"Host: {host}:{port}\r\n{auth}Accept: application/json\r\n".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.connects = 0

    async def open(self) -> None:
        """Connect (again) if not connected."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=1 << 22)
            sock = self._writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connects += 1

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def aclose(self) -> None:
        """Drop the connection and wait until its socket is closed."""
        writer = self._writer
        self.close()
        if writer is not None:
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def request(
        self, method: str, path: bytes, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        """Send one request and read its whole answer: ``(status, body)``.

        Raises
        ------
        HTTPError
            The answer is not HTTP/1.x or the connection closed mid-answer (the connection is dropped).
        """
        await self.open()
        assert self._reader is not None and self._writer is not None
        head = method.encode() + b" " + path + b" HTTP/1.1\r\n" + self._headers
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n".encode()
        self._writer.write(head + b"\r\n" + body)
        try:
            return await self._read()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError) as exc:
            self.close()
            raise HTTPError(f"{type(exc).__name__}: {exc}") from None

    async def get(self, path: bytes) -> tuple[int, bytes]:
        """``GET path``: ``(status, body)``."""
        return await self.request("GET", path)

    async def _read(self) -> tuple[int, bytes]:
        reader = self._reader
        assert reader is not None
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1."):
            self.close()
            raise HTTPError(f"not an HTTP/1.x answer: {head[:40]!r}")
        status = int(head[9:12])
        length, chunked, close = None, False, head.startswith(b"HTTP/1.0")
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                        pass
                    break
                parts.append(await reader.readexactly(size + 2))
            body = b"".join(p[:-2] for p in parts)
        elif length is not None:
            body = await reader.readexactly(length)
        else:  # no length: the body runs to the end of the connection
            body, close = await reader.read(), True
        if close:
            self.close()
        return status, body


# ------------------------------------------------------------------------------------------------ phases


@dataclasses.dataclass
class Phase:
    """What one load phase measured: per request its start (s from the phase's t0), latency (s), status."""

    name: str
    mode: str  # "open" or "closed"
    concurrency: int
    rate: float | None = None
    allowed_as_of: tuple[str, ...] = ()
    starts: list[float] = dataclasses.field(default_factory=list)
    latencies: list[float] = dataclasses.field(default_factory=list)
    statuses: Counter = dataclasses.field(default_factory=Counter)
    errors: Counter = dataclasses.field(default_factory=Counter)
    as_of: Counter = dataclasses.field(default_factory=Counter)
    error_examples: list[str] = dataclasses.field(default_factory=list)
    bodies_checked: int = 0
    wall_s: float = 0.0
    stopped_by_run_end: bool = False
    reconnects: int = 0
    t0: float = 0.0  # the phase's start on the monotonic clock
    new_as_of: str | None = None  # the run being published: when its answers start, and old ones after
    first_new_s: float | None = None
    old_starts: list[float] = dataclasses.field(default_factory=list)
    cpu_s: dict[str, float] = dataclasses.field(default_factory=dict)

    def error(self, kind: str, example: str) -> None:
        """Count one failed request."""
        self.errors[kind] += 1
        if len(self.error_examples) < 10:
            self.error_examples.append(f"{kind}: {example}"[:300])

    def summary(self) -> dict:
        """Counts, throughput and latency percentiles (ms) of the phase."""
        lat = np.asarray(self.latencies) * 1000.0
        ok = int(self.statuses.get(200, 0))
        out = {
            "phase": self.name,
            "mode": self.mode,
            "concurrency": self.concurrency,
            "rate_asked": self.rate,
            "requests": len(self.latencies),
            "ok": ok,
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors),
            "error_examples": self.error_examples,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "as_of_seen": dict(self.as_of),
            "bodies_checked_whole": self.bodies_checked,
            "wall_s": round(self.wall_s, 3),
            "throughput_rps": round(ok / self.wall_s, 1) if self.wall_s > 0 else None,
            # open loop: the server kept up when the answers came as fast as the requests were due
            "kept_up": (ok / self.wall_s >= 0.97 * self.rate) if self.rate and self.wall_s > 0 else None,
            "stopped_by_run_end": self.stopped_by_run_end,
            "reconnects": self.reconnects,
            "cpu_s": {k: round(v, 2) for k, v in self.cpu_s.items()},
        }
        if self.new_as_of is not None:
            first = self.first_new_s
            out["first_new_answer_at_s"] = None if first is None else round(first, 3)
            # answers of the old run to requests due well after the first answer of the new one (1 s grace)
            out["old_answers_1s_after_first_new"] = (
                None if first is None else sum(1 for t in self.old_starts if t > first + 1.0)
            )
        if lat.size:
            q = np.percentile(lat, [50, 90, 99, 99.9])
            out.update(
                p50_ms=round(float(q[0]), 2),
                p90_ms=round(float(q[1]), 2),
                p99_ms=round(float(q[2]), 2),
                p999_ms=round(float(q[3]), 2),
                max_ms=round(float(lat.max()), 2),
                mean_ms=round(float(lat.mean()), 2),
            )
            # the worst second: the p99 of the requests due in each whole second of the phase (20 or more)
            sec = np.floor(np.asarray(self.starts)).astype(int)
            secs, counts = np.unique(sec, return_counts=True)
            per_second = [
                (float(np.percentile(lat[sec == t], 99)), int(t))
                for t, c in zip(secs, counts, strict=True)
                if c >= 20
            ]
            if per_second:
                worst = max(per_second)
                out["worst_second_p99_ms"], out["worst_second_at_s"] = round(worst[0], 2), worst[1]
            # every second of the phase: requests due in it, their p50, p99 and max (ms), for the JSON
            out["per_second"] = [
                [
                    int(t),
                    int(c),
                    *(round(float(v), 2) for v in np.percentile(lat[sec == t], [50, 99])),
                    round(float(lat[sec == t].max()), 2),
                ]
                for t, c in zip(secs, counts, strict=True)
            ]
        return out


class Checker:
    """Checks one answer of ``GET /customers/{id}`` and records it in a phase."""

    def __init__(self, check_every: int) -> None:
        self.check_every = max(1, check_every)
        self._n = 0

    def record(self, phase: Phase, cid: str, start: float, latency: float, status: int, body: bytes) -> None:
        """Record the request's latency and status, and count an error if the answer is wrong."""
        phase.starts.append(start)
        phase.latencies.append(latency)
        phase.statuses[status] += 1
        if status != 200:
            phase.error(f"status {status}", f"{cid}: {body[:200]!r}")
            return
        m = AS_OF_RE.search(body, 0, 4096)  # the top-level as_of is the body's second key
        as_of = m.group(1).decode() if m else None
        phase.as_of[str(as_of)] += 1
        if phase.new_as_of is not None:
            if as_of == phase.new_as_of:
                if phase.first_new_s is None or start < phase.first_new_s:
                    phase.first_new_s = start
            else:
                phase.old_starts.append(start)
        if as_of not in phase.allowed_as_of:
            phase.error("as_of", f"{cid}: as_of {as_of!r}, expected one of {phase.allowed_as_of}")
            return
        self._n += 1
        if self._n % self.check_every:
            return
        phase.bodies_checked += 1
        try:
            doc = json.loads(body)
        except ValueError as exc:
            phase.error("body", f"{cid}: not JSON ({exc})")
            return
        if doc.get("customer_id") != cid:
            phase.error("body", f"asked {cid}, got customer_id {doc.get('customer_id')!r}")
        elif doc.get("as_of") != as_of:
            phase.error("body", f"{cid}: top-level as_of {doc.get('as_of')!r} is not the first {as_of!r}")
        else:
            later = [h.get("as_of") for h in doc.get("history") or [] if str(h.get("as_of")) > as_of]
            if later:
                phase.error("mixed", f"{cid}: as_of {as_of} but history has {later}")


async def _one(conn: Connection, path: bytes, timeout: float) -> tuple[int, bytes] | str:
    """One look-up: ``(status, body)``, or a string saying why it failed."""
    try:
        async with asyncio.timeout(timeout):
            return await conn.get(path)
    except TimeoutError:
        conn.close()
        return "timeout"
    except (HTTPError, OSError) as exc:
        conn.close()
        return f"connection: {exc}"


async def run_phase(
    phase: Phase,
    conns: list[Connection],
    ids: list[str],
    paths: list[bytes],
    *,
    requests: int,
    seconds: float,
    timeout: float,
    checker: Checker,
    stop: asyncio.Event | None = None,
    offset: int = 0,
) -> Phase:
    """Run one phase: open loop at ``phase.rate`` or closed loop, at most ``requests`` and ``seconds``.

    Requests are the ids from ``offset`` on (cycling). ``stop`` ends the phase early: no request is sent after
    it is set (those in flight complete).
    """
    loop = asyncio.get_running_loop()
    # fresh connections: the server closes one idle past its keep-alive timeout (uvicorn: 5 s)
    await asyncio.gather(*(c.aclose() for c in conns))
    await asyncio.gather(*(c.open() for c in conns))
    connects = sum(c.connects for c in conns)
    counter = itertools.count()
    t0 = loop.time() + 0.01
    phase.t0 = t0
    deadline = t0 + seconds
    stop = stop or asyncio.Event()
    n_ids = len(ids)
    cpu0 = time.process_time()

    async def worker(conn: Connection) -> None:
        await asyncio.sleep(t0 - loop.time())
        while True:
            i = next(counter)
            if phase.mode == "open":
                due = t0 + i / phase.rate
                if i >= requests or due >= deadline or stop.is_set():
                    return
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                    if stop.is_set():
                        return
            else:
                due = loop.time()
                if i >= requests or due >= deadline or stop.is_set():
                    return
            k = (offset + i) % n_ids
            res = await _one(conn, paths[k], timeout)
            end = loop.time()
            if isinstance(res, str):
                phase.starts.append(due - t0)
                phase.latencies.append(end - due)
                phase.error(res.split(":")[0], f"{ids[k]}: {res}")
            else:
                checker.record(phase, ids[k], due - t0, end - due, res[0], res[1])

    await asyncio.gather(*(worker(c) for c in conns))
    phase.wall_s = loop.time() - t0
    phase.reconnects = sum(c.connects for c in conns) - connects
    phase.stopped_by_run_end = stop.is_set()
    phase.cpu_s["client"] = time.process_time() - cpu0
    return phase


# ------------------------------------------------------------------------------------ server and the store


def _socialvalue(*args: str) -> list[str]:
    """The ``socialvalue`` command of this interpreter (``python -m socialvalue.cli``)."""
    return [sys.executable, "-m", "socialvalue.cli", *args]


def build_store(path: Path, customers: int) -> dict:
    """Generate and load the demo data, run the pipeline as of 2026-07-01 (it publishes), in a child process."""
    code = f"""
import json, resource, time
from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.pipeline import run_pipeline
t0 = time.perf_counter()
with Store({str(path)!r}) as store:
    generate({customers}, seed=7).load_into(store)
    t1 = time.perf_counter()
    run_pipeline(store, {BASE_AS_OF!r})
print(json.dumps({{"load_s": t1 - t0, "run_s": time.perf_counter() - t1,
                   "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    print(f"building a store of {customers:,} customers in {path} ...", flush=True)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"building the store failed:\n{proc.stderr[-3000:]}")
    built = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"  generated and loaded in {built['load_s']:.1f} s, run as of {BASE_AS_OF} in {built['run_s']:.1f} s "
        f"(peak RSS {built['max_rss_mb']:,.0f} MB)",
        flush=True,
    )
    return built


def publish_if_needed(path: Path) -> None:
    """Run the pipeline once more if the store has no published snapshot (a store built before issue 17)."""
    if (Path(f"{path}.serving") / "CURRENT").exists():
        return
    print(f"{path} has no published snapshot: running the pipeline as of {BASE_AS_OF} ...", flush=True)
    code = (
        "from socialvalue import Store\nfrom socialvalue.pipeline import run_pipeline\n"
        f"with Store({str(path)!r}) as s:\n    run_pipeline(s, {BASE_AS_OF!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def draw_ids(path: Path, n: int, seed: int) -> list[str]:
    """``n`` customer ids drawn with replacement from the store's ``scores`` (seeded)."""
    from socialvalue import Store

    with Store(path, read_only=True) as store:
        ids = store.query_arrow("SELECT DISTINCT customer_id FROM scores ORDER BY customer_id")
    pool = ids.column(0).to_pylist()
    rng = np.random.default_rng(seed)
    return [pool[i] for i in rng.integers(0, len(pool), n)]


def create_key(path: Path, role: str) -> str:
    """A new API key of ``role``: ``socialvalue keys create`` prints it once (``sv_<id>_<secret>``)."""
    cmd = _socialvalue("keys", "create", str(path), "--role", role, "--name", f"api-load-{role}")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"`{' '.join(cmd[2:])}` failed: {proc.stderr.strip()}")
    key = re.search(r"(?<![\w-])sv_[0-9a-f]{8}_[\w-]{43}(?![\w-])", proc.stdout, re.ASCII)
    if key is None:
        raise SystemExit(f"`socialvalue keys create` printed no key: {proc.stdout!r}")
    return key.group(0)


def free_port(host: str) -> int:
    """A TCP port nobody listens on now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Watch(threading.Thread):
    """Samples the server's and its children's (the run's) RSS and CPU every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.every = every
        self.peak_server_mb = 0.0
        self.peak_children_mb = 0.0
        self.children_cpu: dict[int, float] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.peak_server_mb = max(self.peak_server_mb, self.proc.memory_info().rss / 2**20)
                rss = 0.0
                for child in self.proc.children(recursive=True):
                    try:
                        rss += child.memory_info().rss / 2**20
                        t = child.cpu_times()
                        self.children_cpu[child.pid] = t.user + t.system
                    except psutil.Error:
                        pass
                self.peak_children_mb = max(self.peak_children_mb, rss)
            except psutil.Error:
                return
            self._halt.wait(self.every)

    def server_cpu(self) -> float:
        """CPU seconds the server process has used (its children aside)."""
        try:
            t = self.proc.cpu_times()
            return t.user + t.system
        except psutil.Error:
            return float("nan")

    def run_cpu(self) -> float:
        """CPU seconds the server's children (the run) have used so far (sampled)."""
        return sum(self.children_cpu.values())

    def server_hwm_mb(self) -> float | None:
        """The server's peak RSS (``VmHWM``), exact, while it lives."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return None

    def halt(self) -> None:
        """Stop sampling."""
        self._halt.set()


async def wait_health(host: str, port: int, proc: subprocess.Popen, seconds: float) -> dict:
    """Poll ``GET /health`` until it answers 200; return its JSON."""
    conn = Connection(host, port)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode} (see its log)")
        try:
            status, body = await conn.get(b"/health")
            if status == 200:
                await conn.aclose()
                return json.loads(body)
        except (OSError, HTTPError):
            await conn.aclose()
        await asyncio.sleep(0.2)
    raise SystemExit(f"the server did not answer /health within {seconds} s")


# --------------------------------------------------------------------------------------------- the session


async def session(args: argparse.Namespace, store: Path, ids: list[str], log: Path) -> dict:
    """Start the server, run the phases, stop the server; every figure in a dict."""
    host = args.host
    read_key, write_key = create_key(store, "read"), create_key(store, "write")
    port = free_port(host)
    cmd = _socialvalue("serve", str(store), "--host", host, "--port", str(port))
    cmd += ["--rate-limit", str(args.server_rate_limit)] if args.server_rate_limit else []
    cmd += args.serve_arg or []
    paths = [b"/customers/" + quote(cid, safe="").encode() for cid in ids]
    result: dict = {"server_command": " ".join(cmd[2:]), "phases": []}
    with log.open("w") as err:
        server = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT)
    watch = Watch(server.pid)
    watch.start()
    try:
        health = await wait_health(host, port, server, 120.0)
        published = health.get("published") or {}
        old_as_of, old_run = published.get("as_of"), published.get("run_id")
        if not old_as_of:
            raise SystemExit(f"the server publishes no run: /health says {health}")
        result["published_before"] = published
        # a scoring date after the published one: the history of a newer run's customers then ends at it
        run_as_of = args.run_as_of or str(dt.date.fromisoformat(old_as_of) + dt.timedelta(days=14))
        print(
            f"server up on {host}:{port} (pid {server.pid}), serving run {old_run} as of {old_as_of}",
            flush=True,
        )
        conns = [Connection(host, port, read_key) for _ in range(args.concurrency)]
        checker = Checker(args.check_every)
        offset = 0

        async def phase(
            name: str,
            mode: str,
            allowed: tuple[str, ...],
            rate=None,
            stop=None,
            requests=None,
            seconds=None,
            new_as_of=None,
        ):
            nonlocal offset
            ph = Phase(name, mode, args.concurrency, rate, allowed, new_as_of=new_as_of)
            s0, r0 = watch.server_cpu(), watch.run_cpu()
            await run_phase(
                ph,
                conns,
                ids,
                paths,
                requests=requests or args.requests,
                seconds=seconds or args.seconds,
                timeout=args.timeout,
                checker=checker,
                stop=stop,
                offset=offset,
            )
            offset += len(ph.latencies)
            ph.cpu_s["server"] = watch.server_cpu() - s0
            ph.cpu_s["run"] = watch.run_cpu() - r0
            summary = ph.summary()
            summary["t0_monotonic"] = ph.t0
            result["phases"].append(summary)
            print(_row(summary), flush=True)
            return summary

        print(_header(), flush=True)
        # warm-up (not a measurement): the snapshot's pages into the cache, connections open
        await phase("warm-up", "closed", (old_as_of,), seconds=min(3.0, args.seconds), requests=2000)
        for rate in args.rate:
            await phase("quiet", "open", (old_as_of,), rate=rate)
        await phase("quiet", "closed", (old_as_of,))

        # the rescoring run
        writer = Connection(host, port, write_key)
        t_post = time.monotonic()
        status, body = await writer.request("POST", b"/runs", json.dumps({"as_of": run_as_of}).encode())
        if status != 202:
            raise SystemExit(f"POST /runs answered {status}: {body[:500]!r}")
        job = json.loads(body)
        run_id = job["run_id"]
        href = (job.get("href") or f"/runs/{run_id}").encode()
        state: dict = {"status": job.get("status"), "running_at": None, "finished_at": None, "polls": 0}
        running, done = asyncio.Event(), asyncio.Event()

        async def poll() -> None:
            end = time.monotonic() + args.run_timeout
            while time.monotonic() < end:
                try:
                    st, b = await writer.get(href)
                except (HTTPError, OSError) as exc:
                    st, b = 0, str(exc).encode()
                    await writer.aclose()
                state["polls"] += 1
                if st != 200:
                    state["poll_errors"] = state.get("poll_errors", 0) + 1
                else:
                    doc = json.loads(b)
                    state["status"], state["stage"] = doc.get("status"), doc.get("stage")
                    if doc.get("status") == "running" and not running.is_set():
                        state["running_at"] = time.monotonic() - t_post
                        running.set()
                    if doc.get("status") in ("finished", "failed"):
                        state["finished_at"] = time.monotonic() - t_post
                        state["record"] = doc
                        running.set()
                        done.set()
                        return
                await asyncio.sleep(0.25)
            state["timed_out"] = True
            running.set()
            done.set()

        poller = asyncio.create_task(poll())
        await running.wait()
        both = (old_as_of, run_as_of)
        if not done.is_set():
            print(
                f"run {run_id} as of {run_as_of} running ({state['running_at']:.1f} s after POST)",
                flush=True,
            )
        for rate in args.rate:
            if not done.is_set():
                await phase("during run", "open", both, rate=rate, stop=done)
        if not done.is_set():
            await phase("during run", "closed", both, stop=done)
        # light load until 3 s after the run finished: the swap to the new run, seen by the clients
        slow = min(args.rate)
        print(f"open loop at {slow:g}/s until 3 s after the run finishes (the swap) ...", flush=True)
        swap_over = asyncio.Event()

        async def after_done() -> None:
            await done.wait()
            await asyncio.sleep(3.0)
            swap_over.set()

        ender = asyncio.create_task(after_done())
        swap = await phase(
            "to the swap",
            "open",
            both,
            rate=slow,
            stop=swap_over,
            requests=int(slow * (args.run_timeout + 10)),
            seconds=args.run_timeout + 10,
            new_as_of=run_as_of,
        )
        await ender
        await poller
        record = state.get("record") or {}
        result["run"] = {
            "run_id": run_id,
            "as_of": run_as_of,
            "status": state["status"],
            "running_after_post_s": state["running_at"],
            "finished_after_post_s": state["finished_at"],
            # the first answer of the new run, from the run's finish as the poller saw it (0.25 s polls)
            "first_new_answer_after_finish_s": (
                None
                if swap.get("first_new_answer_at_s") is None or state["finished_at"] is None
                else round(
                    swap["t0_monotonic"] + swap["first_new_answer_at_s"] - t_post - state["finished_at"], 3
                )
            ),
            "timed_out": state.get("timed_out", False),
            "timings": record.get("timings"),
            "memory": record.get("memory"),
            "started_at": record.get("started_at"),
            "finished_at": record.get("finished_at"),
            "error": record.get("error"),
            "cpu_s": round(watch.run_cpu(), 1),
        }
        if state["status"] != "finished":
            raise SystemExit(f"run {run_id} did not finish: {result['run']}")
        print(f"run {run_id} finished {state['finished_at']:.1f} s after POST", flush=True)

        # the server picks up the new run
        t_done = time.monotonic()
        health = {}
        while time.monotonic() - t_done < 60:
            _, b = await writer.get(b"/health")
            health = json.loads(b)
            if (health.get("published") or {}).get("run_id") == run_id:
                break
            await asyncio.sleep(0.1)
        result["published_after"] = health.get("published")
        result["picked_up"] = (health.get("published") or {}).get("run_id") == run_id
        await writer.aclose()
        await phase("after run", "closed", (run_as_of,), seconds=min(5.0, args.seconds), requests=5000)
        await asyncio.gather(*(c.aclose() for c in conns))
    finally:
        result["server_peak_rss_mb"] = watch.server_hwm_mb()
        watch.halt()
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        watch.join(2)
        result["server_peak_rss_mb_sampled"] = round(watch.peak_server_mb, 1)
        result["run_peak_rss_mb_sampled"] = round(watch.peak_children_mb, 1)
    return result


# ----------------------------------------------------------------------------------------------- printing

_COLS = (
    ("phase", 11, "phase"),
    ("load", 15, "load"),
    ("requests", 9, "requests"),
    ("errors", 7, "errors"),
    ("req/s", 8, "throughput_rps"),
    ("p50 ms", 8, "p50_ms"),
    ("p90 ms", 8, "p90_ms"),
    ("p99 ms", 8, "p99_ms"),
    ("max ms", 8, "max_ms"),
    ("reconn", 7, "reconnects"),
    ("cpu c/s/run", 15, "cpu"),
)


def _header() -> str:
    return " ".join(f"{h:<{w}}" if i < 2 else f"{h:>{w}}" for i, (h, w, _) in enumerate(_COLS))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def _row(s: dict) -> str:
    cpu = s["cpu_s"]
    values = {
        "phase": s["phase"],
        "load": f"open {s['rate_asked']:g}/s" if s["mode"] == "open" else f"closed, {s['concurrency']}",
        "cpu": f"{cpu.get('client', 0):.0f}/{cpu.get('server', 0):.0f}/{cpu.get('run', 0):.0f}",
    }
    cells = []
    for i, (_, w, key) in enumerate(_COLS):
        text = values[key] if key in values else _cell(s.get(key))
        cells.append(f"{text:<{w}}" if i < 2 else f"{text:>{w}}")
    line = " ".join(cells)
    if s["mode"] == "open" and s.get("kept_up") is False:
        line += "  (over capacity: the backlog grew all phase)"
    if s.get("stopped_by_run_end"):
        line += "  (stopped: the run finished)"
    return line


def verdict(result: dict) -> list[str]:
    """One line per target: the first open loop's p99 against the issue's, and the error count."""
    lines = []
    for name, target in TARGET_P99_MS.items():
        ph = next((p for p in result["phases"] if p["phase"] == name and p["mode"] == "open"), None)
        if ph is None or "p99_ms" not in ph:
            lines.append(f"p99 {name}: not measured (the run finished before the phase)")
            continue
        met = ph["p99_ms"] < target
        lines.append(
            f"p99 {name} (open loop, {ph['rate_asked']:g} req/s): {ph['p99_ms']:,.1f} ms, "
            f"target < {target:g} ms: "
            + ("met" if met else f"MISSED by {ph['p99_ms'] - target:,.1f} ms ({ph['p99_ms'] / target:,.1f}x)")
            + ("" if ph["kept_up"] else f"; the server answered {ph['throughput_rps']:g} req/s, not the rate")
        )
    errors = sum(p["errors"] for p in result["phases"])
    lines.append(f"errors: {errors} (target 0)")
    return lines


# ----------------------------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1_000_000, help="size of the store to build")
    ap.add_argument("--store", type=Path, help="the store to use (built there if the file does not exist)")
    ap.add_argument("--requests", type=int, default=100_000, help="at most this many requests a phase")
    ap.add_argument("--seconds", type=float, default=30.0, help="at most this long a phase")
    ap.add_argument("--concurrency", type=int, default=64, help="connections (clients)")
    ap.add_argument(
        "--rate",
        type=float,
        action="append",
        help="open loop: aggregate requests a second (default 400; repeat for one open-loop phase each, the "
        "first is the one compared with the targets)",
    )
    ap.add_argument("--timeout", type=float, default=10.0, help="a request slower than this is an error (s)")
    ap.add_argument("--check-every", type=int, default=10, help="parse one body in this many whole")
    ap.add_argument("--seed", type=int, default=17, help="seed of the customer ids asked for")
    ap.add_argument(
        "--run-as-of",
        help="scoring date of the run started by POST /runs (default: 14 days after the published run's; "
        "2026-07-15 on a new store)",
    )
    ap.add_argument("--run-timeout", type=float, default=1800.0, help="give up waiting for the run (s)")
    ap.add_argument("--host", default="127.0.0.1", help="loopback address the server listens on")
    ap.add_argument(
        "--server-rate-limit",
        type=int,
        default=10_000_000,
        help="serve --rate-limit (requests a minute a key); 0 keeps the server's default",
    )
    ap.add_argument("--serve-arg", action="append", help="one more argument for `socialvalue serve`")
    ap.add_argument("--json", type=Path, help="write every figure to this JSON file")
    args = ap.parse_args()
    require_loopback(args.host)
    args.rate = args.rate or [400.0]
    if min(args.rate) <= 0 or args.concurrency < 1:
        ap.error("--rate and --concurrency must be positive")

    tmp = None
    if args.store is None:
        tmp = Path(tempfile.mkdtemp(prefix="sv_bench_api_"))
        store = tmp / "store.duckdb"
    else:
        store = args.store.resolve()
        store.parent.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg(),
        "store": str(store),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    try:
        if not store.exists():
            result["build"] = build_store(store, args.customers)
        else:
            print(f"reusing the store {store}", flush=True)
            publish_if_needed(store)
        n_req = args.requests * 2 + 10_000
        ids = draw_ids(store, min(n_req, 500_000), args.seed)
        result.update(asyncio.run(session(args, store, ids, store.parent / "api_load_server.log")))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    result["load_average_end"] = os.getloadavg()
    result["verdict"] = verdict(result)
    run = result["run"]
    print(
        f"run as of {run['as_of']}: {run['finished_after_post_s']:.1f} s from POST to finished "
        f"(running after {run['running_after_post_s']:.1f} s), {run['cpu_s']:.0f} CPU s; "
        f"/health then published it: {result['picked_up']}"
    )
    swap = next(p for p in result["phases"] if p["phase"] == "to the swap")
    first = run["first_new_answer_after_finish_s"]
    print(
        "the clients' first answer from the new run: "
        + ("none" if first is None else f"{first:+.2f} s from the run's finish as polled")
        + f"; answers from the old run to requests due > 1 s after it: {swap['old_answers_1s_after_first_new']}"
    )
    print(
        f"server peak RSS {result['server_peak_rss_mb'] or result['server_peak_rss_mb_sampled']:,.0f} MB; "
        f"run child peak RSS (sampled) {result['run_peak_rss_mb_sampled']:,.0f} MB; "
        f"reconnections within phases: {sum(p['reconnects'] for p in result['phases'])}"
    )
    for line in result["verdict"]:
        print(line)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    errors = sum(p["errors"] for p in result["phases"]) + (0 if result["picked_up"] else 1)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
