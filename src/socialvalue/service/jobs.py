"""The server's writes: one at a time, beside reads that never wait for them.

DuckDB allows one writing process per store. The server serialises its own writes with one lock: a
rescoring run (``POST /runs``) holds it for the run's whole duration in a child process
(:mod:`socialvalue.service.worker`, at a lower priority), an ingest or an erasure for theirs, in the server
process. Runs queue; an ingest or an erasure that finds the lock held answers ``409`` with ``Retry-After``
rather than keep a client waiting for minutes. Reads never take the lock: they read the published snapshot.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from socialvalue.service.problems import Problem

__all__ = ["Job", "Writer"]

logger = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Job:
    """A rescoring run started through the API."""

    run_id: str
    as_of: str
    status: str = "queued"
    stage: str | None = None
    stages_done: list[str] = field(default_factory=list)
    submitted_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    customers: int | None = None

    def public(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {**asdict(self), "href": f"/runs/{self.run_id}"}


class Writer:
    """Serialise the server's writes to one store.

    Parameters
    ----------
    store_path
        The store.
    nice
        Niceness of a run's child process.
    on_published
        Called after a run or an erasure wrote a new snapshot (the reader's refresh).
    """

    def __init__(self, store_path: Path, nice: int, on_published: Any) -> None:
        self.store_path = store_path
        self.nice = nice
        self.on_published = on_published
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._busy_with = ""
        self._thread = threading.Thread(target=self._work, name="socialvalue-runs", daemon=True)
        self._thread.start()

    # -- exclusive writes in the server process -------------------------------------------------------
    @contextlib.contextmanager
    def exclusive(self, what: str, wait: float = 2.0) -> Iterator[None]:
        """Hold the store's write lock for ``what``, or raise a ``409`` problem when a write holds it."""
        if not self.lock.acquire(timeout=wait):
            raise Problem(
                409,
                "busy",
                f"the store is being written ({self._busy_with}); try again when it ends",
                headers={"Retry-After": "5"},
            )
        self._busy_with = what
        try:
            yield
        finally:
            self._busy_with = ""
            self.lock.release()

    # -- runs --------------------------------------------------------------------------------------------
    def submit(self, as_of: str) -> Job:
        """Queue a rescoring run as of ``as_of``."""
        job = Job(run_id=uuid.uuid4().hex[:12], as_of=as_of)
        self.jobs[job.run_id] = job
        self._queue.put(job)
        return job

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                with self.lock:
                    self._busy_with = f"run {job.run_id}"
                    self._run(job)
                    self._busy_with = ""
            except Exception as exc:  # a job never takes the server down
                job.status, job.error = "failed", f"the run could not be started ({type(exc).__name__})"
                logger.exception("run %s could not be started", job.run_id)

    def _run(self, job: Job) -> None:
        job.status, job.started_at = "running", _now()
        cmd = [
            sys.executable, "-m", "socialvalue.service.worker", str(self.store_path),
            "--as-of", job.as_of, "--run-id", job.run_id, "--nice", str(self.nice),
        ]  # fmt: skip
        with subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                kind = event.get("event")
                if kind == "stage" and event.get("status") == "start":
                    job.stage = str(event.get("stage"))
                elif kind == "stage" and event.get("status") == "end":
                    job.stages_done.append(str(event.get("stage")))
                elif kind == "finished":
                    job.customers = int(event.get("customers") or 0)
                elif kind == "failed":
                    job.error = str(event.get("error"))[:500]
            code = proc.wait()
        job.finished_at = _now()
        job.stage = None
        if code == 0 and job.error is None:
            job.status = "finished"
            self.on_published()
        else:
            job.status = "failed"
            job.error = job.error or f"the run's process ended with code {code}"
        logger.info("run %s %s", job.run_id, job.status)

    def close(self) -> None:
        """Stop taking runs (a running one finishes in its own process)."""
        self._queue.put(None)
