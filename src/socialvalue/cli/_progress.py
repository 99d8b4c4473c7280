"""Progress of a command's stages: a transient Rich bar with elapsed time, on standard error.

Long commands report their stages through one callback, ``on_stage(name, event)`` with ``event`` ``"start"``,
``"end"`` or ``"step"`` (a step inside the running stage, shown as its description; the signature :func:`socialvalue.pipeline.run_pipeline` takes), so the library stays free of any
display code::

    with stage_progress(["simulate", "write", "load"]) as on_stage:
        on_stage("simulate", "start")
        ...
        on_stage("simulate", "end")

The bar disappears when the block ends (results then go to standard output); on a console that is not a
terminal nothing is drawn at all. The callback also records each stage's wall time in ``timings``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["StageProgress", "stage_progress"]


class StageProgress:
    """The ``on_stage(name, event)`` callback of :func:`stage_progress`.

    Parameters
    ----------
    progress
        The running Rich progress display (``None``: only record timings).
    task
        Its one task, advanced by one per finished stage.

    Attributes
    ----------
    timings : dict of str to float
        Seconds per finished stage, in the order they finished.
    """

    def __init__(self, progress: Progress | None = None, task: TaskID | None = None) -> None:
        self._progress = progress
        self._task = task
        self._started: dict[str, float] = {}
        self.timings: dict[str, float] = {}

    def __call__(self, name: str, event: str) -> None:
        """Show ``name`` as the current stage (``"start"``) or step (``"step"``), or count it as done (``"end"``)."""
        if event == "start":
            self._started[name] = time.perf_counter()
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, description=name)
        elif event == "end":
            self.timings[name] = time.perf_counter() - self._started.pop(name, time.perf_counter())
            if self._progress is not None and self._task is not None:
                self._progress.advance(self._task)
        elif event == "step":
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, description=name)
        else:
            raise ValueError(f"unknown stage event {event!r}; expected 'start', 'step' or 'end'")

    def stage(self, name: str) -> _Stage:
        """A context manager calling ``start`` on entry and ``end`` on a normal exit."""
        return _Stage(self, name)


class _Stage:
    def __init__(self, on_stage: StageProgress, name: str) -> None:
        self._on_stage, self._name = on_stage, name

    def __enter__(self) -> None:
        self._on_stage(self._name, "start")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self._on_stage(self._name, "end")


@contextmanager
def stage_progress(
    stages: Sequence[str] | int, *, console: Console | None = None, title: str = ""
) -> Iterator[StageProgress]:
    """Show a transient progress bar over ``stages`` while the block runs.

    Parameters
    ----------
    stages
        The stages to expect (their names, or just how many): the bar's total.
    console
        Where to draw; default the CLI's standard-error console.
    title
        Shown before the current stage's name (e.g. the command).

    Yields
    ------
    StageProgress
        The ``on_stage(name, event)`` callback.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    if console is None:
        from socialvalue.cli import console as default_console

        console = default_console
    if not console.is_terminal or console.is_dumb_terminal:  # piped or captured: draw nothing at all
        yield StageProgress()
        return
    total = stages if isinstance(stages, int) else len(stages)
    prefix = f"{title}: " if title else ""
    with Progress(
        SpinnerColumn(),
        TextColumn(prefix + "{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=total)
        yield StageProgress(progress, task)
