"""The child process of a rescoring run started by ``POST /runs``: ``python -m socialvalue.service.worker``.

It lowers its own priority (``--nice``), opens the store, runs the pipeline with the id the server gave,
publishes the results (the pipeline does, :func:`socialvalue.published.publish`), and reports progress as
JSON lines on standard output: ``{"event": "stage", "stage": ..., "status": "start"|"end"}``, then
``{"event": "finished", ...}`` or ``{"event": "failed", "error": ...}`` (one line; no traceback, no personal
field).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

__all__ = ["main"]


def _say(**event: object) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run one pipeline for the server; exit 0 when it finished, 1 when it failed."""
    parser = argparse.ArgumentParser(prog="socialvalue.service.worker")
    parser.add_argument("store")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--config", default=None)
    parser.add_argument("--nice", type=int, default=10)
    args = parser.parse_args(argv)
    if args.nice:
        try:
            os.nice(args.nice)
        except OSError:
            pass  # not allowed here: run at the normal priority
    try:
        from socialvalue.errors import SocialValueError
        from socialvalue.pipeline import load_run_config, run_pipeline
        from socialvalue.store import Store

        cfg = load_run_config(args.config)
        with Store(args.store) as store:
            result = run_pipeline(
                store,
                args.as_of,
                cfg,
                run_id=args.run_id,
                on_stage=lambda name, status: _say(event="stage", stage=name, status=status),
            )
        _say(event="finished", run_id=result.run_id, as_of=result.as_of, customers=len(result.scores))
        return 0
    except SocialValueError as exc:
        _say(event="failed", error=(str(exc).strip().splitlines() or ["the run failed"])[0])
    except Exception as exc:  # the server shows one line; never a traceback
        _say(event="failed", error=f"the run failed unexpectedly ({type(exc).__name__})")
    return 1


if __name__ == "__main__":  # pragma: no cover - the server starts it as a process
    sys.exit(main())
