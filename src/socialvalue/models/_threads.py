"""Thread limits for the BLAS and OpenMP libraries the models call (local effects, undone on exit).

The scoring models fit small problems (a few thousand to a few hundred thousand rows) on which OpenMP's
spinning threads cost more than they bring as soon as the machine's cores are busy: on a shared 2-core host,
gradient boosting ran 13x and k-means 20x slower with the default thread count than with one thread.

threadpoolctl finds the libraries to limit by scanning every shared library the process has loaded (8-16 ms
with pandas, pyarrow and scipy loaded); each scan is done once, lazily, and its controller reused.
:func:`single_thread_blas`, which every BTYD fit enters, skips the scan altogether when numpy and scipy run on
the OpenBLAS their wheels bundle: it calls those libraries' own thread setters (microseconds). Both matter:
numpy's for the likelihoods, scipy's for L-BFGS-B, whose tiny BLAS calls took 200 ms per Pareto/NBD fit on
CDNOW with threads on a loaded 2-core machine, 36 ms without.
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
#: the OpenBLAS copies bundled in numpy's and scipy's wheels: file paths, found on first use ([] when numpy's
#: BLAS is something else, then threadpoolctl is used), and their (get, set) thread functions once loaded.
_BUNDLED: list[list[Path]] = []
_SETTERS: dict[Path, tuple[Callable[[], int], Callable[[int], Any]] | None] = {}
_LOCK = threading.Lock()
_STATE = {
    "depth": 0,
    "saved": 0,
}  # nesting depth of single_thread_blas blocks and the thread count to restore


def _controller(kind: str) -> Any:
    """The threadpoolctl controller for ``kind`` ("sklearn" or "blas"), scanning the loaded libraries once.

    For "sklearn" the scan needs the OpenMP runtime scikit-learn's compiled estimators share loaded: its
    smallest compiled module, ``sklearn.utils._openmp_helpers``, loads it (with the BLAS numpy and scipy
    use), and no estimator subpackage is imported for the scan; the fit imports the one it uses.
    """
    found = _CONTROLLERS.get(kind)
    if found is None:
        if kind == "sklearn":
            import sklearn.utils._openmp_helpers  # noqa: F401
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


def _bundled_openblas() -> list[Path]:
    """The OpenBLAS libraries numpy's and scipy's wheels bundle, or ``[]`` if numpy's BLAS is not one of them.

    The wheels ship them as ``numpy.libs/libscipy_openblas64_-<hash>.so`` and
    ``scipy.libs/libscipy_openblas-<hash>.so`` (Linux, Windows) or under ``<package>/.dylibs`` (macOS). numpy
    runs its linear algebra on the first, scipy (e.g. L-BFGS-B) on the second. ``[]`` for any other BLAS
    (conda's, MKL, Accelerate), or when scipy is installed without a bundled copy: threadpoolctl then.
    """
    found: list[Path] = []
    for package in ("numpy", "scipy"):
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        root = Path(spec.origin).parent
        libs = [
            path
            for folder in (root.parent / f"{package}.libs", root / ".dylibs")
            if folder.is_dir()
            for path in sorted(folder.iterdir())
            if "openblas" in path.name
        ]
        if not libs:
            return []
        found.extend(libs)
    return found


def _setters(path: Path) -> tuple[Callable[[], int], Callable[[int], Any]] | None:
    """Thread getter and setter of a bundled OpenBLAS if the process has loaded it (``RTLD_NOLOAD``)."""
    try:
        lib = ctypes.CDLL(str(path), mode=os.RTLD_NOLOAD)
    except OSError:  # not loaded (yet)
        return None
    for prefix in ("scipy_", ""):
        for suffix in ("64_", "", "_64"):
            get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype = ctypes.c_int
                set_.argtypes = [ctypes.c_int]
                return get, set_
    return None


def _loaded_openblas() -> list[tuple[Callable[[], int], Callable[[int], Any]]] | None:
    """(get, set) of every bundled OpenBLAS loaded so far, or ``None`` when threadpoolctl must do the work.

    A library not loaded yet is looked for again on the next call (scipy's copy loads with scipy.linalg or
    scipy.optimize, possibly after the first fit); one found stays found. The wheels' builds use a process-wide
    pthreads pool, which ``openblas_set_num_threads`` sets.
    """
    if not _BUNDLED:
        noload = getattr(os, "RTLD_NOLOAD", None)
        _BUNDLED.append(_bundled_openblas() if noload is not None else [])
    if not _BUNDLED[0]:
        return None
    out = []
    for path in _BUNDLED[0]:
        setters = _SETTERS.get(path)
        if setters is None:
            setters = _setters(path)
            if setters is None:
                continue
            _SETTERS[path] = setters
        out.append(setters)
    return out


@contextmanager
def _openblas_one_thread() -> Iterator[None]:
    # OpenBLAS's pthreads pool is process-wide: the first block to enter saves the counts and sets one thread,
    # the last to leave restores them, whichever threads they run in. A library loaded inside the block (scipy's
    # by a first L-BFGS-B fit) is limited by the next block.
    with _LOCK:
        if _STATE["depth"] == 0:
            saved = []
            for get, set_ in _loaded_openblas() or []:
                n = int(get())
                if n > 1:
                    set_(1)
                    saved.append((set_, n))
            _STATE["saved"] = saved
        _STATE["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["depth"] == 0:
                for set_, n in _STATE["saved"]:
                    set_(n)
                _STATE["saved"] = []


def single_thread_blas() -> contextlib.AbstractContextManager[Any]:
    """A ``with`` block in which BLAS runs on one thread.

    The OpenBLAS copies bundled in numpy's and scipy's wheels are set directly (microseconds); otherwise
    threadpoolctl limits every BLAS it finds (one scan per process), or nothing when threadpoolctl is missing.
    """
    if _loaded_openblas() is not None:
        return _openblas_one_thread()
    try:
        controller = _controller("blas")
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")
