"""Thread limits for the BLAS and OpenMP libraries the models call (local effects, undone on exit).

The scoring models fit small problems (a few thousand to a few hundred thousand rows) on which OpenMP's
spinning threads cost more than they bring as soon as the machine's cores are busy: on a shared 2-core host,
gradient boosting ran 13x and k-means 20x slower with the default thread count than with one thread.

threadpoolctl finds the libraries to limit by scanning every shared library the process has loaded (8-16 ms
with pandas, pyarrow and scipy loaded); each scan is done once, lazily, and its controller reused.
:func:`single_thread_blas`, which every BTYD fit enters, skips the scan altogether when numpy runs on the
OpenBLAS its wheel bundles: it calls that library's own thread setter (microseconds).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["limited_threads", "single_thread_blas"]

#: threadpoolctl controllers, each created on first use: "sklearn" after loading scikit-learn's compiled
#: extensions (threadpoolctl only sees libraries already loaded), "blas" without them.
_CONTROLLERS: dict[str, Any] = {}
#: numpy's bundled OpenBLAS as (get_num_threads, set_num_threads), or None; resolved on first use.
_OPENBLAS: list[tuple[Callable[[], int], Callable[[int], Any]] | None] = []
_LOCK = threading.Lock()
_STATE = {
    "depth": 0,
    "saved": 0,
}  # nesting depth of single_thread_blas blocks and the thread count to restore


def _controller(kind: str) -> Any:
    """The threadpoolctl controller for ``kind`` ("sklearn" or "blas"), scanning the loaded libraries once."""
    found = _CONTROLLERS.get(kind)
    if found is None:
        if kind == "sklearn":
            import sklearn.cluster
            import sklearn.ensemble
            import sklearn.metrics
            import sklearn.mixture  # noqa: F401
        from threadpoolctl import ThreadpoolController

        found = _CONTROLLERS[kind] = ThreadpoolController()
    return found


@contextmanager
def limited_threads(n: int | None) -> Iterator[None]:
    """Run the block with at most ``n`` OpenMP/BLAS threads (no limit when ``n`` is None)."""
    if n is None:
        yield
        return
    with _controller("sklearn").limit(limits=n):
        yield


def _numpy_openblas() -> tuple[Callable[[], int], Callable[[int], Any]] | None:
    """Thread getter and setter of the OpenBLAS bundled in numpy's wheel, if numpy runs on one.

    The wheel ships it as ``numpy.libs/libscipy_openblas64_-<hash>.so`` (Linux, Windows) or under
    ``numpy/.dylibs`` (macOS). The library is opened with ``RTLD_NOLOAD``, so only a copy numpy has already
    loaded is used. ``None`` for any other BLAS (conda's, MKL, Accelerate) or an OpenMP-threaded OpenBLAS
    (per-thread limits): those go through threadpoolctl.
    """
    noload = getattr(os, "RTLD_NOLOAD", None)
    spec = importlib.util.find_spec("numpy")
    if noload is None or spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).parent
    for folder in (root.parent / "numpy.libs", root / ".dylibs"):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if "openblas" not in path.name:
                continue
            try:
                lib = ctypes.CDLL(str(path), mode=noload)
            except OSError:
                continue
            for prefix in ("scipy_", ""):
                for suffix in ("64_", "", "_64"):
                    get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                    set_ = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                    parallel = getattr(lib, f"{prefix}openblas_get_parallel{suffix}", None)
                    if get is None or set_ is None or parallel is None:
                        continue
                    if parallel() != 1:  # 0: sequential build (nothing to limit), 2: OpenMP (per thread)
                        return None
                    get.restype = ctypes.c_int
                    set_.argtypes = [ctypes.c_int]
                    return get, set_
    return None


@contextmanager
def _openblas_one_thread(get: Callable[[], int], set_: Callable[[int], Any]) -> Iterator[None]:
    # OpenBLAS's pthreads pool is process-wide: the first block to enter saves the count, the last to leave
    # restores it, whichever threads they run in.
    with _LOCK:
        if _STATE["depth"] == 0:
            _STATE["saved"] = int(get())
            if _STATE["saved"] > 1:
                set_(1)
        _STATE["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["depth"] == 0 and _STATE["saved"] > 1:
                set_(_STATE["saved"])


def single_thread_blas() -> contextlib.AbstractContextManager[Any]:
    """A ``with`` block in which BLAS runs on one thread.

    Numpy's bundled OpenBLAS is set directly; otherwise threadpoolctl limits every BLAS it finds (one scan
    per process), or nothing when threadpoolctl is missing.
    """
    if not _OPENBLAS:
        _OPENBLAS.append(_numpy_openblas())
    direct = _OPENBLAS[0]
    if direct is not None:
        return _openblas_one_thread(*direct)
    try:
        controller = _controller("blas")
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")
