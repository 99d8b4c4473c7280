"""Social components vs follower count on the real Ciao data (time split), and the benchmark's building blocks.

Data: Ciao reviews and trust network released by Tang, Gao & Liu (2012), "mTrust: Discerning multi-faceted
trust in a connected world", WSDM 2012, 93-102 (252,277 dated reviews, 57,544 trust edges), read from
``../shared/data/ciao``. The figures asserted below are those of docs/validation/ciao.md (printed by
``.venv/bin/python benchmarks/ciao_social.py --small``, the same settings as here).
"""

from __future__ import annotations

import pandas as pd
import pytest

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.social import Graph, influence_edges
from socialvalue.social.validation import (
    COMPONENTS,
    NeighbourBenchmarkConfig,
    follower_targets,
    neighbour_activity_benchmark,
    social_components_at,
)

SPLIT, END = "2008-01-01", "2010-01-01"
CONFIG = NeighbourBenchmarkConfig(spread_sets_per_node=50, cv_repeats=2, bootstrap=200)


def _day(d: int) -> pd.Timestamp:
    return pd.Timestamp("2020-01-01") + pd.Timedelta(days=d)


def _toy() -> tuple[dict[str, pd.DataFrame], Graph]:
    # b and c follow a; c follows b. Influence edges: a -> b, a -> c, b -> c.
    rel = pd.DataFrame({"src_id": ["b", "c", "c"], "dst_id": ["a", "a", "b"], "kind": "follow"})
    rows = [
        ("a", "X", 1),  # before the split
        ("a", "Z", 12),  # after the split, after c's review of Z: c's Z is not an adoption of a
        ("b", "X", 10),  # adopts a's X
        ("b", "W", 2),  # before the split
        ("c", "X", 11),  # adopts a's X (and b's X, reviewed on day 10)
        ("c", "Z", 8),
        ("c", "Y", 30),  # after the end
    ]
    content = pd.DataFrame(
        {
            "content_id": [f"r{i}" for i in range(len(rows))],
            "author_id": [r[0] for r in rows],
            "product_id": [r[1] for r in rows],
            "created_at": [_day(r[2]) for r in rows],
            "rating": 4.0,
            "helpful_votes": 1,
        }
    )
    graph = Graph.from_frame(influence_edges(rel, as_of=_day(5)))
    return {"content": content, "relationships": rel}, graph


def test_follower_targets_by_hand():
    """Split day 5, end day 20: a's followers b, c write 1 + 2 reviews; adoptions a: 2 (b's X, c's X), b: 1."""
    tables, graph = _toy()
    t = follower_targets(graph, tables["content"], _day(5), _day(20))
    assert t.loc["a", "follower_activity"] == 3
    assert t.loc["b", "follower_activity"] == 2
    assert t.loc["c", "follower_activity"] == 0
    assert t.loc["a", "follower_adoptions"] == 2
    assert t.loc["b", "follower_adoptions"] == 1
    assert t.loc["c", "follower_adoptions"] == 0


def test_components_use_only_data_before_the_split():
    tables, graph = _toy()
    comps = social_components_at(graph, tables["content"], _day(5), config=CONFIG)
    assert list(comps.columns) == list(COMPONENTS)
    assert comps["followers"].to_dict() == {"a": 2.0, "b": 1.0, "c": 0.0}
    assert comps["reach_2"].to_dict() == {"a": 2.0, "b": 1.0, "c": 0.0}
    # before day 5 only a's X (day 1) and b's W (day 2): c has no content yet, b's followers wrote nothing
    assert comps.loc["c", "content_score"] == 0.0
    assert comps.loc["a", "content_score"] > 0.0
    assert comps["audience_activity"].to_dict() == {"a": 1.0, "b": 0.0, "c": 0.0}
    # no propagation before the split: every learned edge probability is 0, so the spread is the node itself
    assert comps["direct_influence"].eq(0.0).all()


def test_bad_inputs_raise():
    tables, _ = _toy()
    with pytest.raises(ConfigError, match="must come before end"):
        neighbour_activity_benchmark(tables, _day(20), _day(5))
    with pytest.raises(ConfigError, match="no content before the split"):
        neighbour_activity_benchmark(tables, _day(0), _day(20))
    with pytest.raises(SchemaError, match="tables lack 'relationships'"):
        neighbour_activity_benchmark({"content": tables["content"]}, _day(5))
    with pytest.raises(ConfigError, match="only 2 members"):
        neighbour_activity_benchmark(tables, _day(5), _day(20), config=CONFIG)
    with pytest.raises(ValueError, match="extra"):
        NeighbourBenchmarkConfig(tau=30)


@pytest.fixture(scope="module")
def ciao_result(shared_data):
    from socialvalue.datasets import ciao

    return neighbour_activity_benchmark(ciao.load(shared_data / "ciao"), SPLIT, END, config=CONFIG)


@pytest.mark.slow
def test_ciao_social_components_beat_follower_count_on_followers_future_reviews(ciao_result):
    """Train before 2008, evaluate the followers' reviews of 2008-2009 (Tang, Gao & Liu 2012 data).

    Follower count alone: raw Spearman 0.863, out-of-fold log-linear R² 0.695 / Spearman 0.862. All social
    components: R² 0.752, Spearman 0.899 (gain 0.037, paired bootstrap 95% [0.032, 0.042]).
    """
    r = ciao_result
    assert r.info["members"] == 2325 and r.info["edges"] == 57544
    assert r.info["content_after"] == 44504
    assert r.components.loc[("follower_activity", "followers"), "spearman"] == pytest.approx(0.863, abs=0.002)
    m = r.models.loc["follower_activity"]
    base, social = m.loc["followers"], m.loc["social components"]
    assert base.spearman == pytest.approx(0.862, abs=0.003)
    assert social.spearman >= base.spearman + 0.025
    assert social.r2_log >= base.r2_log + 0.04
    assert social.spearman_min > base.spearman_max  # every CV repeat
    gain = r.gain.loc[("follower_activity", "social components")]
    assert gain.lower > 0.02
    # the followers' own past activity (a naive neighbour baseline) adds on top of the social components
    full = m.loc["social components + audience_activity"]
    assert full.spearman >= social.spearman + 0.01
    assert full.r2_log >= base.r2_log + 0.06


@pytest.mark.slow
def test_ciao_social_components_beat_follower_count_on_follower_adoptions(ciao_result):
    """Followers reviewing, in 2008-2009, items the member reviewed first: content quality carries the gain.

    Followers alone: R² 0.168, Spearman 0.423, top-decile capture 0.349; social components: 0.336, 0.490, 0.562.
    """
    m = ciao_result.models.loc["follower_adoptions"]
    base, social = m.loc["followers"], m.loc["social components"]
    assert social.r2_log >= 1.5 * base.r2_log
    assert social.top_decile_capture >= 1.3 * base.top_decile_capture
    assert ciao_result.gain.loc[("follower_adoptions", "social components"), "lower"] > 0.02
    assert m.loc["followers + content_score", "spearman"] >= base.spearman + 0.05


@pytest.mark.slow
def test_ciao_components_that_do_not_help_are_reported(ciao_result):
    """Honest negatives (update docs/validation/ciao.md if one of these stops holding).

    On follower activity the RR-set spread carries almost no signal (mean sigma - 1 is 0.026: members reach
    almost nobody; since issue 14 the member itself is counted exactly, so the old per-member standard error of
    0.14, which was the noise of the sets rooted at the member, is gone), all-history content volume ranks *negatively* (early prolific reviewers have quieter audiences),
    and the combined model does not improve the top-decile capture of follower count.
    """
    r = ciao_result
    comp = r.components.loc["follower_activity"]
    assert abs(comp.loc["spread", "spearman"]) < 0.15
    assert comp.loc["content_score", "spearman"] < -0.1
    # changed on purpose (issue 14): the median standard error is now 0 (no set reaches most members from
    # elsewhere), so the signal is compared with a fixed small bound instead
    assert 0 <= r.info["spread_mean_minus_1"] < 0.1
    m = r.models.loc["follower_activity"]
    assert m.loc["followers + spread", "spearman"] < m.loc["followers", "spearman"] + 0.01
    assert m.loc["social components", "top_decile_capture"] <= m.loc["followers", "top_decile_capture"] + 0.01


def test_tz_aware_times_are_read_as_utc():
    """Times in a TIMESTAMPTZ column are compared in UTC: 10:00 in Paris in January is 09:00 UTC."""
    tables, _ = _toy()
    paris = pd.Series(pd.Timestamp("2020-01-06 10:00", tz="Europe/Paris"), index=tables["content"].index)
    aware = {**tables, "content": tables["content"].assign(created_at=paris)}
    day5 = _day(5)
    with pytest.raises(ConfigError, match="no content before the split"):
        neighbour_activity_benchmark(aware, day5 + pd.Timedelta(hours=8, minutes=30), _day(20))
    with pytest.raises(ConfigError, match="only 2 members"):  # content at 09:00 UTC is before 09:30
        neighbour_activity_benchmark(aware, day5 + pd.Timedelta(hours=9, minutes=30), _day(20), config=CONFIG)


@pytest.mark.slow
def test_ciao_through_the_store_gives_the_same_targets(shared_data, store, ciao_result):
    """Ingest Ciao into a DuckDB store, read it back: same graph, same follower activity and adoptions."""
    from socialvalue.datasets import ciao

    loaded = ciao.load(shared_data / "ciao")
    for kind in ("customers", "content", "relationships"):
        store.ingest(kind, loaded[kind])
    content = store.query_df("SELECT * FROM content")
    rel = store.query_df("SELECT * FROM relationships")
    graph = Graph.from_frame(influence_edges(rel, as_of=SPLIT))
    targets = follower_targets(graph, content, SPLIT, END).loc[ciao_result.members.index]
    pd.testing.assert_frame_equal(targets, ciao_result.members[list(targets.columns)])
    assert targets["follower_activity"].sum() == 1_429_515
