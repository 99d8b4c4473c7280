"""The load client of ``benchmarks/api_load.py``: HTTP framing, open-loop accounting, answer checks, loopback only.

The client is benchmark code, so its figures are only as good as these: a stand-in HTTP server on 127.0.0.1
(asyncio, a few lines) answers with each framing, and a server that takes 20 ms a request, one at a time,
shows that the open loop counts the wait behind a slow server (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path

import pytest

SERVICE_S = 0.02


def _bench():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "api_load.py"
    spec = importlib.util.spec_from_file_location("api_load_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = _bench()


def _customer(cid: str, as_of: str = "2026-07-01", history=("2026-07-01",)) -> bytes:
    doc = {"customer_id": cid, "as_of": as_of, "history": [{"as_of": h} for h in history]}
    return json.dumps(doc, separators=(",", ":")).encode()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lock: asyncio.Lock) -> None:
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            break
        path = head.split(b" ")[1].decode()
        if path == "/chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
        elif path == "/close":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            break
        elif path.startswith("/slow/"):
            async with lock:  # one request at a time, SERVICE_S each
                await asyncio.sleep(SERVICE_S)
            body = _customer(path.rsplit("/", 1)[1])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        else:
            body = _customer(path.rsplit("/", 1)[1])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def _with_server(test):
    """Run ``test(port)`` against the stand-in server; the test closes its connections, the server then ends."""
    lock = asyncio.Lock()
    handlers = set()

    def connected(reader, writer):
        handlers.add(asyncio.ensure_future(_handle(reader, writer, lock)))

    server = await asyncio.start_server(connected, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        out = await test(port)
    await asyncio.wait_for(asyncio.gather(*handlers), 5)
    return out


def test_framing_and_keep_alive():
    async def test(port):
        conn = bench.Connection("127.0.0.1", port, "key")
        first = await conn.get(b"/customers/C1")
        second = await conn.get(b"/customers/C2")
        chunked = await conn.get(b"/chunked")
        assert conn.connects == 1  # keep-alive: three answers on one connection
        closed = await conn.get(b"/close")
        after = await conn.get(b"/customers/C3")
        assert conn.connects == 2  # the server closed: the client opened a new connection
        await conn.aclose()
        return first, second, chunked, closed, after

    first, second, chunked, closed, after = asyncio.run(_with_server(test))
    assert first == (200, _customer("C1"))
    assert second == (200, _customer("C2"))
    assert chunked == (200, b"hello, world")
    assert closed == (200, b"ok")
    assert after == (200, _customer("C3"))


def _phase(mode, rate, seconds):
    async def test(port):
        conns = [bench.Connection("127.0.0.1", port)]
        ids = [f"C{i}" for i in range(100)]
        paths = [f"/slow/{c}".encode() for c in ids]
        phase = bench.Phase("t", mode, 1, rate, ("2026-07-01",))
        await bench.run_phase(
            phase, conns, ids, paths, requests=1000, seconds=seconds, timeout=5, checker=bench.Checker(1)
        )
        await conns[0].aclose()
        return phase

    return asyncio.run(_with_server(test))


def test_open_loop_counts_the_wait_behind_a_slow_server():
    # requests due every 5 ms, served one at a time in 20 ms: the backlog grows by 15 ms a request
    phase = _phase("open", 200.0, 0.3)
    s = phase.summary()
    assert s["requests"] == 60 and s["errors"] == 0 and s["bodies_checked_whole"] == 60
    assert s["max_ms"] > 0.7 * 60 * (SERVICE_S - 0.005) * 1000  # ~900 ms behind at the end, not 20 ms
    assert s["p50_ms"] > 10 * SERVICE_S * 1000


def test_closed_loop_waits_for_each_answer():
    phase = _phase("closed", None, 0.3)
    s = phase.summary()
    assert s["errors"] == 0 and 5 <= s["requests"] <= 16
    assert SERVICE_S * 1000 <= s["p50_ms"] < 4 * SERVICE_S * 1000
    assert s["throughput_rps"] == pytest.approx(1 / SERVICE_S, rel=0.5)


def test_checker_counts_wrong_answers():
    phase = bench.Phase("t", "closed", 1, None, ("2026-07-01", "2026-07-15"))
    check = bench.Checker(1)
    check.record(phase, "C1", 0.0, 0.001, 200, _customer("C1"))
    check.record(phase, "C2", 0.0, 0.001, 200, _customer("C2", "2026-07-15", ("2026-07-01", "2026-07-15")))
    check.record(phase, "C3", 0.0, 0.001, 200, _customer("C9"))
    check.record(phase, "C4", 0.0, 0.001, 200, _customer("C4", "2026-06-01"))
    check.record(phase, "C5", 0.0, 0.001, 200, _customer("C5", "2026-07-01", ("2026-07-15",)))
    check.record(phase, "C6", 0.0, 0.001, 404, b'{"status":404}')
    s = phase.summary()
    assert s["requests"] == 6 and s["ok"] == 5
    assert s["errors_by_kind"] == {"body": 1, "as_of": 1, "mixed": 1, "status 404": 1}
    assert s["as_of_seen"] == {"2026-07-01": 3, "2026-07-15": 1, "2026-06-01": 1}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts_are_accepted(host):
    bench.require_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.1", "8.8.8.8", "0.0.0.0"])
def test_other_hosts_are_refused(host):
    with pytest.raises(SystemExit, match="loopback only"):
        bench.require_loopback(host)
    with pytest.raises(SystemExit, match="loopback only"):
        bench.Connection(host, 80)
