"""The small runner of a pipeline's stages: what each reads and writes, its time and memory, and release.

Each stage module declares a :class:`StageSpec`: the feature-table columns it reads (``features`` at the
date, ``holdout`` only from the calibration table) and the artifacts it reads and writes. The runner asks the
engine for exactly the union of the columns the stages read, and after each stage drops every column and
artifact no later stage reads, so nothing holds a full-width feature table for the whole run. It times each
stage (wall seconds and the process's peak RSS so far) and passes progress to the caller's
``on_stage(name, event)`` callback: ``"start"`` and ``"end"`` around each stage, ``"step"`` for the steps of
a long stage (the CLI shows them with Rich). A progress step costs one function call.
"""

from __future__ import annotations

import gc
import logging
import resource
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["FEATURE_TABLES", "Runner", "StageSpec"]

logger = logging.getLogger(__name__)

#: The two feature tables of a run: at the date, and at the calibration end with the holdout targets.
FEATURE_TABLES = ("features", "features_cal")


@dataclass(frozen=True)
class StageSpec:
    """What a stage reads and writes.

    Attributes
    ----------
    name
        The stage's name (its timing key in ``_runs``).
    features
        Feature columns read from both feature tables (``customer_id`` is always there).
    holdout
        Columns read only from the calibration table (its holdout targets).
    reads
        Artifacts the stage reads besides the feature tables (e.g. ``"clv"``).
    writes
        Artifacts it produces.
    uses_calibration
        Whether it reads the calibration feature table (fitting; a scoring with stored models has none).
    """

    name: str
    features: tuple[str, ...] = ()
    holdout: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    uses_calibration: bool = True


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Runner:
    """Run stages in order, timing them and freeing what no later stage reads.

    Parameters
    ----------
    specs
        The stages, in the order they run.
    on_stage
        Progress callback ``(name, event)``: ``"start"``/``"end"`` around a stage, ``"step"`` with
        ``"<stage>: <step>"`` inside one. None: no display.
    keep
        Artifacts kept to the end whatever the stages read (the run's results).
    """

    def __init__(
        self,
        specs: Sequence[StageSpec],
        on_stage: Callable[[str, str], None] | None = None,
        *,
        keep: Sequence[str] = (),
    ) -> None:
        self.specs = tuple(specs)
        self.on_stage = on_stage
        self.keep = frozenset(keep)
        self.timings: dict[str, float] = {}
        self.memory: dict[str, float] = {}
        self._current: str | None = None

    def columns(self, table: str, *, after: int = -1) -> list[str]:
        """The columns of feature ``table`` read by the stages after index ``after`` (``customer_id`` first)."""
        cols: dict[str, None] = {"customer_id": None}
        for spec in self.specs[after + 1 :]:
            if table == "features_cal" and not spec.uses_calibration:
                continue
            for c in spec.features + (spec.holdout if table == "features_cal" else ()):
                cols[c] = None
        return list(cols)

    def _read_later(self, after: int) -> set[str]:
        names: set[str] = set(self.keep)
        for spec in self.specs[after + 1 :]:
            names.update(spec.reads)
            if spec.features or spec.holdout:
                names.add("features")
                if spec.uses_calibration:
                    names.add("features_cal")
        return names

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name`` (wall seconds, peak RSS) and report its start and end."""
        if self.on_stage:
            self.on_stage(name, "start")
        self._current = name
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 3)
        self.memory[name] = round(_peak_mb(), 1)
        self._current = None
        logger.info("stage %s: %.2f s (peak RSS %.0f MB)", name, self.timings[name], self.memory[name])
        if self.on_stage:
            self.on_stage(name, "end")

    def step(self, text: str) -> None:
        """Report a step of the running stage (e.g. ``"influence graph"``) to the progress callback."""
        if self.on_stage:
            self.on_stage(f"{self._current or 'run'}: {text}", "step")

    def release(self, artifacts: MutableMapping[str, Any], done: str) -> None:
        """After stage ``done``: drop the artifacts and feature columns no later stage reads.

        Feature tables lose the columns no later stage declares; an artifact nobody reads later is deleted
        (its memory returns once nothing else refers to it).
        """
        index = next(i for i, s in enumerate(self.specs) if s.name == done)
        later = self._read_later(index)
        freed: list[str] = []
        for name in list(artifacts):
            if name not in later:
                del artifacts[name]
                freed.append(name)
            elif name in FEATURE_TABLES and isinstance(artifacts[name], pd.DataFrame):
                wanted = set(self.columns(name, after=index))
                drop = [c for c in artifacts[name].columns if c not in wanted]
                if drop:
                    artifacts[name] = artifacts[name].drop(columns=drop)
                    freed.append(f"{name}[{len(drop)} columns]")
        if freed:
            gc.collect()
            logger.info("after %s: released %s", done, ", ".join(freed))
