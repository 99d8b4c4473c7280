"""Cap the OpenMP/BLAS threads scikit-learn uses inside a block (a local effect, undone on exit).

The scoring models fit small problems (a few thousand to a few hundred thousand rows) on which OpenMP's
spinning threads cost more than they bring as soon as the machine's cores are busy: on a shared 2-core host,
gradient boosting ran 13x and k-means 20x slower with the default thread count than with one thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["limited_threads"]


@contextmanager
def limited_threads(n: int | None) -> Iterator[None]:
    """Run the block with at most ``n`` OpenMP/BLAS threads (no limit when ``n`` is None)."""
    if n is None:
        yield
        return
    # threadpoolctl only sees libraries already loaded: load sklearn's OpenMP extensions first.
    import sklearn.cluster
    import sklearn.ensemble
    import sklearn.metrics
    import sklearn.mixture  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n):
        yield
