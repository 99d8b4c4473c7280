"""Ciao reviews and trust graph in canonical form (Tang, Gao & Liu 2012; ../shared/data/ciao/SOURCE.md)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from socialvalue.datasets import DatasetNotFoundError, ciao, ingest_tables

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def tables(shared_data):
    return ciao.load(shared_data / "ciao", ratings_as_orders=True)


def test_counts_match_source(tables):
    """SOURCE.md: 252,277 ratings; 57,544 trust edges among 2,342 members."""
    assert tables["content"].num_rows == 252_277
    assert tables["interactions"].num_rows == 252_277
    assert tables["orders"].num_rows == 252_277
    rel = tables["relationships"]
    assert rel.num_rows == 57_544
    members = pc.count_distinct(
        pa.concat_arrays([rel["src_id"].combine_chunks(), rel["dst_id"].combine_chunks()])
    )
    assert members.as_py() == 2_342
    # every rater and every trust member is a customer
    assert tables["customers"].num_rows == 7_334
    assert pc.count_distinct(tables["content"]["author_id"]).as_py() == 7_143


def test_mapping_choices(tables):
    content = tables["content"]
    assert set(content["kind"].to_pylist()) == {"review"}
    # the ratings of 0, outside the 1-5 scale; SOURCE.md says "34 rows" but the file holds 33
    assert content["rating"].null_count == 33
    assert pc.min(content["rating"]).as_py() == 1.0 and pc.max(content["rating"]).as_py() == 5.0
    assert pc.count_distinct(content["content_id"]).as_py() == 252_277
    assert content["created_at"][0].as_py().isoformat() == "2000-05-30T07:00:00"
    rel = tables["relationships"]
    assert set(rel["kind"].to_pylist()) == {"follow"}
    assert rel["created_at"].null_count == rel.num_rows
    orders = tables["orders"]
    assert set(orders["currency"].to_pylist()) == {"XXX"}
    assert pc.sum(orders["amount"]).as_py() == 252_277


def test_orders_only_on_request(shared_data):
    assert "orders" not in ciao.load(shared_data / "ciao")


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="Ciao files missing"):
        ciao.load(tmp_path)


@pytest.mark.slow
def test_loads_into_store(store, tables):
    ingest_tables(store, tables)
    counts = store.table_counts()
    assert counts == {
        "customers": 7_334,
        "orders": 252_277,
        "interactions": 252_277,
        "relationships": 57_544,
        "content": 252_277,
    }
