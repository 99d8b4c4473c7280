"""The API's contract on a real server (``conftest.served``, never written to): docs, OpenAPI, models, errors.

``docs/api.md`` names the endpoints; ``/openapi.json`` must list exactly those, with the typed models of
``socialvalue.service.schemas`` as their response schemas; every 2xx answer of every ``GET`` must validate
against its model; every error is a problem document that validates against ``ProblemOut``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from socialvalue.service import schemas

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
#: The response model of each GET, by its OpenAPI path.
MODELS = {
    "/health": schemas.HealthOut,
    "/overview": schemas.OverviewOut,
    "/changes": schemas.ChangesOut,
    "/customers": schemas.CustomerPage,
    "/customers/{customer_id}": schemas.CustomerOut,
    "/segments": schemas.SegmentsOut,
    "/influencers": schemas.InfluencersOut,
    "/actions": schemas.ActionsOut,
    "/insight": schemas.InsightOut,
    "/experiments": schemas.ExperimentsOut,
    "/runs": schemas.RunsOut,
    "/runs/{run_id}": schemas.RunJobOut,
}
#: Models of the 2xx answers of the writes (checked in the OpenAPI description only: this server is read).
WRITE_MODELS = {
    ("post", "/runs"): ("202", schemas.RunJobOut),
    ("post", "/ingest/{kind}"): ("200", schemas.IngestOut),
    ("delete", "/customers/{customer_id}"): ("200", schemas.ErasureOut),
}


def _norm(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _documented() -> set[tuple[str, str]]:
    """(method, path) of every endpoint heading in docs/api.md's "Endpoints" section."""
    text = API_DOC.read_text(encoding="utf-8")
    section = text.split("\n## Endpoints", 1)[1].split("\n## ", 1)[0]
    found = set()
    for line in section.splitlines():
        if line.startswith("### "):
            found |= {(m, _norm(p)) for m, p in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?\s]*)", line)}
    return found


def _strict_json(r: httpx.Response):
    """The body as JSON, refusing NaN and infinities (not JSON, RFC 8259)."""

    def refuse(name: str):
        raise AssertionError(f"{r.request.url}: {name} in a JSON body")

    return json.loads(r.text, parse_constant=refuse)


@pytest.fixture(scope="module")
def spec(served) -> dict:
    r = httpx.get(served.url + "/openapi.json")  # no key needed
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    return r.json()


@pytest.fixture(scope="module")
def api(served):
    with served.client("read") as c:
        yield c


def _operations(spec: dict):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield path, method, op


# -- the description --------------------------------------------------------------------------------------
def test_openapi_lists_exactly_the_documented_endpoints(spec):
    documented = _documented()
    assert len(documented) == 15, documented
    listed = {(m.upper(), _norm(p)) for p, m, _ in _operations(spec)}
    assert listed == documented


def test_every_get_has_a_typed_model_and_every_write_too(spec):
    gets = {p for p, m, _ in _operations(spec) if m == "get"}
    assert gets == set(MODELS)
    for path, model in MODELS.items():
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model.__name__}"}, path
    for (method, path), (code, model) in WRITE_MODELS.items():
        schema = spec["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model.__name__}"}, (method, path)
    body = spec["paths"]["/runs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/RunIn"}


def test_every_operation_documents_its_errors_as_problems(spec):
    expected = {"401", "403", "404", "422", "429"}
    for path, method, op in _operations(spec):
        errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
        needed = expected - {"401", "403", "429"} if path == "/health" else expected
        assert needed <= set(errors), (method, path, sorted(errors))
        for code, response in errors.items():
            schemas_named = [c.get("schema") for c in response.get("content", {}).values()]
            assert {"$ref": "#/components/schemas/ProblemOut"} in schemas_named, (method, path, code)
            assert "application/problem+json" in response["content"], (method, path, code)
    problem = spec["components"]["schemas"]["ProblemOut"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}


def test_error_schemas_are_under_the_media_type_errors_are_sent_as(spec):
    for path, method, op in _operations(spec):
        for code, response in op["responses"].items():
            if code[0] in "45":
                content = response["content"]
                assert content["application/problem+json"].get("schema") == {
                    "$ref": "#/components/schemas/ProblemOut"
                }, (method, path, code)
                assert "application/json" not in content, (method, path, code)


def test_csv_answers_are_documented(spec):
    for path in ("/customers", "/actions"):
        assert "text/csv" in spec["paths"][path]["get"]["responses"]["200"]["content"], path


# -- the answers --------------------------------------------------------------------------------------------
def _check(r: httpx.Response, model) -> dict:
    assert r.status_code == 200, (r.request.url, r.text[:300])
    assert r.headers["content-type"] == "application/json"
    body = _strict_json(r)
    model.model_validate(body)
    return body


def test_every_get_answer_validates_against_its_model(api, served):
    _check(httpx.get(served.url + "/health"), schemas.HealthOut)
    for path in (
        "/overview",
        "/changes",
        "/segments",
        "/actions",
        "/insight",
        "/experiments",
        "/influencers",
        "/influencers?k=500",
    ):
        _check(api.get(path), MODELS[path.split("?")[0]])
    runs = _check(api.get("/runs"), schemas.RunsOut)["items"]
    assert runs
    for run in runs:
        body = _check(api.get(f"/runs/{run['run_id']}"), schemas.RunJobOut)
        assert body["run_id"] == run["run_id"]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"sort": "value", "limit": 500},
        {"sort": "churn_risk", "churn_alert": "true"},
        {"sort": "-customer_id", "influencer": "true"},
        {"sort": "social_value", "min_value": 0, "max_value": 1e9},
        {"segment": "no such segment"},
    ],
)
def test_pages_and_customers_validate(api, query):
    page = _check(api.get("/customers", params=query), schemas.CustomerPage)
    pages = 1
    while page["next_cursor"] and pages < 3:
        page = _check(
            api.get("/customers", params={**query, "cursor": page["next_cursor"]}), schemas.CustomerPage
        )
        pages += 1
    for item in page["items"][:15]:
        body = _check(api.get(f"/customers/{item['customer_id']}"), schemas.CustomerOut)
        assert body["customer_id"] == item["customer_id"]


def test_csv_answers_have_the_documented_columns(api):
    r = api.get("/customers", params={"format": "csv", "segment": "Champions"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    header = next(csv.reader(io.StringIO(r.text)))
    assert header == list(schemas.CustomerRow.model_fields)  # the columns of a page's items
    r = api.get("/actions", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    header = next(csv.reader(io.StringIO(r.text)))
    assert header == [
        "customer_id",
        "action",
        "label",
        "channel",
        "cost",
        "expected_value",
        "net_value",
        "reason",
    ]


# -- the errors ---------------------------------------------------------------------------------------------
def _errors(served):
    """One request per error code this read-only server can give, as (code, method, OpenAPI path, response)."""
    with served.client("read") as read, served.client("write") as write, served.client(None) as anon:
        yield 400, "get", "/customers", read.get("/customers", params={"cursor": "not-a-cursor"})
        yield 401, "get", "/overview", anon.get("/overview")
        yield 401, "post", "/ingest/{kind}", anon.post("/ingest/orders", content=b"x")
        yield 403, "post", "/runs", read.post("/runs", json={"as_of": "2026-07-01"})
        yield 403, "delete", "/customers/{customer_id}", read.delete("/customers/C0000001")
        yield 404, "get", "/customers/{customer_id}", read.get("/customers/NO-SUCH-CUSTOMER")
        yield 404, "get", "/runs/{run_id}", read.get("/runs/no-such-run")
        yield 404, "post", "/ingest/{kind}", write.post("/ingest/nothing", content=b"a\n1\n")
        yield 405, None, None, read.put("/overview")
        yield 404, None, None, read.get("/no/such/route")
        yield 415, "post", "/ingest/{kind}", write.post("/ingest/orders", content=b"<a/>")
        yield 422, "get", "/influencers", read.get("/influencers", params={"k": 0})
        yield 422, "post", "/runs", write.post("/runs", json={"as_of": "someday"})


def test_every_error_is_a_problem_document(served, spec):
    seen = set()
    for code, method, path, r in _errors(served):
        assert r.status_code == code, (code, r.request.url, r.text[:300])
        assert r.headers["content-type"] == "application/problem+json"
        body = schemas.ProblemOut.model_validate(_strict_json(r)).model_dump()
        assert body["status"] == code and body["type"].startswith("https://socialvalue.dev/problems/")
        assert body["instance"] == urlsplit(str(r.request.url)).path
        if path is not None:
            assert str(code) in spec["paths"][path][method]["responses"], (method, path, code)
        seen.add(code)
    assert seen == {400, 401, 403, 404, 405, 415, 422}


def test_docs_load_offline(served):
    r = httpx.get(served.url + "/docs", follow_redirects=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    outside = [
        url
        for url in re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", r.text)
        if urlsplit(url).scheme or url.startswith("//")
    ]
    assert outside == [], outside
    for asset in re.findall(r"""(?:src|href)\s*=\s*["']([^"'#]+)["']""", r.text):
        assert httpx.get(httpx.URL(str(r.url)).join(asset)).status_code == 200, asset
