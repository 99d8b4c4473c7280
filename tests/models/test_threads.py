"""Thread limits (socialvalue.models._threads), checked against threadpoolctl's own view of the libraries."""

from __future__ import annotations

import threading

import numpy as np
import scipy.optimize
from threadpoolctl import threadpool_info, threadpool_limits

from socialvalue.models import _threads
from socialvalue.models._threads import limited_threads, single_thread_blas


def _bundled_threads() -> dict[str, int]:
    """Threads of the OpenBLAS copies of numpy's and scipy's wheels (what the BTYD fits call), by file."""
    bundled = {str(p) for p in _threads._bundled_openblas()}
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["filepath"] in bundled}


def _loaded() -> None:
    np.dot(np.ones(3), np.ones(3))
    scipy.optimize.minimize(lambda x: float(x @ x), np.ones(2), method="L-BFGS-B")


def test_the_wheels_openblas_copies_are_found_directly():
    # numpy and scipy wheels bundle OpenBLAS: the direct setters must find both (numpy's for the likelihoods,
    # scipy's for L-BFGS-B), or every first fit pays for threadpoolctl's scan of all loaded libraries.
    _loaded()
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    if all(lib["internal_api"] == "openblas" and ".libs" in lib["filepath"] for lib in blas):
        assert len(_bundled_threads()) == len(blas) == 2
        assert len(_threads._loaded_openblas()) == 2
        with threadpool_limits(limits=2, user_api="blas"):
            assert sorted(get() for get, _ in _threads._loaded_openblas()) == [2, 2]


def test_single_thread_blas_limits_and_restores():
    _loaded()
    with threadpool_limits(limits=2, user_api="blas"):
        before = _bundled_threads()
        assert before and set(before.values()) == {2}
        with single_thread_blas():
            assert set(_bundled_threads().values()) == {1}
            with single_thread_blas():  # nested: still one, and the outer block restores
                assert set(_bundled_threads().values()) == {1}
            assert set(_bundled_threads().values()) == {1}
        assert _bundled_threads() == before


def test_single_thread_blas_from_two_threads_restores_once_both_leave():
    _loaded()
    with threadpool_limits(limits=2, user_api="blas"):
        before = _bundled_threads()
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
        assert set(_bundled_threads().values()) == {1}
        leave.set()
        t.join(10)
        assert _bundled_threads() == before


def test_limited_threads_scans_once_and_limits():
    with limited_threads(1):
        first = _threads._CONTROLLERS["sklearn"]
        assert all(lib["num_threads"] == 1 for lib in threadpool_info())
    with limited_threads(1):
        assert _threads._CONTROLLERS["sklearn"] is first
    with limited_threads(None):
        pass


def test_the_scan_loads_the_openmp_runtime_without_importing_estimators():
    """limited_threads scans once, after loading only what the limit needs (issue 16: it imported four
    estimator subpackages first); the controller it keeps still holds scikit-learn's OpenMP runtime."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from socialvalue.models import _threads\n"
        "with _threads.limited_threads(1):\n"
        "    apis = sorted({c.user_api for c in _threads._CONTROLLERS['sklearn'].lib_controllers})\n"
        "print(apis, [m for m in ('sklearn.cluster', 'sklearn.mixture', 'sklearn.ensemble') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['blas', 'openmp'] []"
