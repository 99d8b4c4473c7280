"""The feature registry: every feature once, with its name, description, unit, window and SQL.

A :class:`Feature` is one column of the feature table. Its ``expr`` is an aggregate SQL expression (DuckDB
dialect, written so that SQLGlot transpiles it to Spark SQL) evaluated over one :class:`Source`, a relation
grouped by customer. Features whose ``source`` is ``"final"`` are computed from other feature columns after
the join. :func:`registry` expands the templates (interaction and content kinds, windows) for a
:class:`FeatureConfig`. The classes are defined in :mod:`socialvalue.features.spec` and importable here.
"""

from __future__ import annotations

from collections.abc import Sequence

from socialvalue.errors import ConfigError
from socialvalue.features.definitions import features
from socialvalue.features.spec import GROUPS, Feature, FeatureConfig, Source

__all__ = ["GROUPS", "Feature", "FeatureConfig", "Source", "registry"]


def registry(
    config: FeatureConfig | None = None,
    *,
    holdout: bool = True,
    select: Sequence[str] | None = None,
) -> tuple[Feature, ...]:
    """Features for ``config`` in table order (holdout targets last, only if ``holdout``).

    Parameters
    ----------
    config
        Vocabularies and windows.
    holdout
        Include the holdout targets.
    select
        Feature names and/or group names (:data:`GROUPS`) to keep; ``None`` keeps all.

    Raises
    ------
    ConfigError
        If ``select`` names an unknown feature or group.
    """
    config = config or FeatureConfig()
    feats = features(config)
    if not holdout:
        feats = tuple(f for f in feats if f.group != "holdout")
    names = [f.name for f in feats]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:  # pragma: no cover - a programming error in definitions
        raise RuntimeError(f"duplicate feature names: {sorted(dupes)}")
    if select is not None:
        wanted = set(select)
        unknown = wanted - set(names) - set(GROUPS)
        if unknown:
            raise ConfigError(f"unknown features or groups: {', '.join(sorted(unknown))}")
        feats = tuple(f for f in feats if f.name in wanted or f.group in wanted)
    return feats
