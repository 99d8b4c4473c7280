"""Thread limits (socialvalue.models._threads), checked against threadpoolctl's own view of the libraries."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from socialvalue.models import _threads
from socialvalue.models._threads import limited_threads, single_thread_blas


def _blas_threads() -> list[int]:
    """Threads of numpy's BLAS (the one the BTYD fits call; scipy may load its own copy too)."""
    numpy_dir = str(Path(np.__file__).parent)
    return [
        lib["num_threads"]
        for lib in threadpool_info()
        if lib["user_api"] == "blas" and lib["filepath"].startswith((numpy_dir, numpy_dir + ".libs"))
    ]


def test_single_thread_blas_limits_and_restores():
    np.dot(np.ones(3), np.ones(3))  # numpy's BLAS is loaded
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert before and max(before) == 2
        with single_thread_blas():
            assert max(_blas_threads()) == 1
            with single_thread_blas():  # nested: still one, and the outer block restores
                assert max(_blas_threads()) == 1
            assert max(_blas_threads()) == 1
        assert _blas_threads() == before


def test_single_thread_blas_from_two_threads_restores_once_both_leave():
    np.dot(np.ones(3), np.ones(3))
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        inside, leave = threading.Event(), threading.Event()

        def worker() -> None:
            with single_thread_blas():
                inside.set()
                leave.wait(10)

        t = threading.Thread(target=worker)
        with single_thread_blas():
            t.start()
            assert inside.wait(10)
        # the main block left first; the worker's block still runs on one thread
        if _threads._OPENBLAS and _threads._OPENBLAS[0] is not None:
            assert max(_blas_threads()) == 1
        leave.set()
        t.join(10)
        assert _blas_threads() == before


def test_numpy_wheel_openblas_found_directly():
    # numpy's wheel bundles OpenBLAS (numpy.libs/): the direct setter must find it, or every first fit
    # pays for threadpoolctl's scan of all loaded libraries.
    info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    direct = _threads._numpy_openblas()
    if "openblas" in info["name"] and any(lib["internal_api"] == "openblas" for lib in threadpool_info()):
        assert direct is not None
        get, _ = direct
        assert get() == max(_blas_threads())


def test_limited_threads_scans_once_and_limits():
    with limited_threads(1):
        first = _threads._CONTROLLERS["sklearn"]
        assert all(lib["num_threads"] == 1 for lib in threadpool_info())
    with limited_threads(1):
        assert _threads._CONTROLLERS["sklearn"] is first
    with limited_threads(None):
        pass
