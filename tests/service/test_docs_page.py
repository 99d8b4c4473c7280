"""The offline API reference (issue 17): ``/docs`` renders ``/openapi.json`` in headless Chromium, no CDN.

FastAPI's own ``/docs`` and ``/redoc`` load Swagger UI and ReDoc from a CDN, so the app turns them off and
``GET /docs`` redirects to ``/dashboard/docs.html``, which renders the OpenAPI description with its own script.
Each test opens that page from the ``served`` demo store's real server in a fresh browser context that fails
every request not addressed to 127.0.0.1 and collects console errors and page errors. What the page shows is
compared with ``GET /openapi.json``: every operation, its parameters and their constraints, its response
codes, and the response schema's fields resolved from ``#/components/schemas``. Keyboard reach through the
table of contents and the WCAG contrast of every visible text are measured in the page.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

STATIC = Path(__file__).resolve().parents[2] / "src" / "socialvalue" / "service" / "static"
DOCS_FILES = ("docs.html", "docs.js", "docs.css")
LOOPBACK = {"127.0.0.1"}
METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
REF = "#/components/schemas/"


class DocsPage:
    """One browser context on the API reference: its page, the requests it made, what went wrong in it."""

    def __init__(self, browser, served) -> None:
        self.served = served
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.context.route("**/*", self._guard)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def _guard(self, route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def open(self, path: str = "/docs"):
        """Load ``path`` (by default the ``/docs`` redirect) and wait until the description is rendered."""
        response = self.page.goto(self.served.url + path)
        self.page.wait_for_selector("body[data-state=ready]")
        return response

    def check(self) -> None:
        """No request left loopback, and the console holds no error."""
        assert self.outside == []
        assert self.errors == []

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def docs(browser, served):
    """The API reference, opened through ``GET /docs`` and rendered."""
    d = DocsPage(browser, served)
    d.open()
    yield d
    d.close()


@pytest.fixture(scope="module")
def spec(served) -> dict:
    """The OpenAPI description the page renders (no key needed)."""
    r = httpx.get(served.url + "/openapi.json", timeout=30)
    assert r.status_code == 200
    return r.json()


def operation(docs: DocsPage, method: str, path: str):
    return docs.page.locator(f'section.operation[data-operation="{method} {path}"]')


# -- the redirect and the page's isolation -----------------------------------------------------------------
def test_docs_redirects_to_the_offline_page(served):
    r = httpx.get(served.url + "/docs", timeout=30)
    assert r.status_code in (301, 302, 303, 307, 308)
    assert r.headers["location"] == "/dashboard/docs.html"
    page = httpx.get(served.url + r.headers["location"], timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # FastAPI's CDN-loaded pages are off
    assert httpx.get(served.url + "/redoc", timeout=30).status_code == 404


def test_the_page_loads_with_no_request_leaving_loopback_and_no_console_error(docs, served, spec):
    page = docs.page
    assert page.url == served.url + "/dashboard/docs.html"  # reached through the /docs redirect
    hosts = {urlsplit(u).hostname for u in docs.requests if not u.startswith(("blob:", "data:"))}
    assert hosts == LOOPBACK
    paths = {urlsplit(u).path for u in docs.requests}
    assert "/openapi.json" in paths
    assert {"/dashboard/docs.js", "/dashboard/docs.css", "/dashboard/app.css"} <= paths
    # the title and version of the description
    assert spec["info"]["title"] in page.inner_text("#api-title")
    assert page.get_attribute("[data-version]", "data-version") == spec["info"]["version"]
    assert spec["info"]["version"] in page.title()
    # the files themselves name no outside resource (the only URL allowed anywhere is the SVG namespace)
    for name in DOCS_FILES:
        text = (STATIC / name).read_text(encoding="utf-8")
        assert set(re.findall(r"https?://[^\s\"')]+", text)) <= {"http://www.w3.org/2000/svg"}, name
        assert "@import" not in text and "url(" not in text, name
    assert "innerHTML" not in (STATIC / "docs.js").read_text(encoding="utf-8")  # strings go in as text
    docs.check()


def test_the_authentication_paragraph_names_both_headers_and_the_roles(docs):
    text = docs.page.inner_text("#authentication")
    assert "Authorization: Bearer <key>" in text
    assert "X-API-Key: <key>" in text
    roles = docs.page.eval_on_selector_all(
        'table[data-table="roles"] tbody th', "els => els.map(e => e.textContent.trim())"
    )
    assert roles == ["read", "write", "admin"]
    assert "401" in text and "403" in text
    docs.check()


# -- the description, in full --------------------------------------------------------------------------------
def test_every_operation_appears_grouped_by_its_tag(docs, spec):
    page = docs.page
    expected = {(m, p) for p, item in spec["paths"].items() for m in item if m in METHODS}
    shown = page.eval_on_selector_all(
        "section.operation",
        "els => els.map(e => [e.dataset.method, e.dataset.path, e.closest('section.tag').dataset.tag])",
    )
    assert {(m, p) for m, p, _ in shown} == expected
    assert len(shown) == len(expected)  # each once
    for method, path, tag in shown:
        op = spec["paths"][path][method]
        assert tag == (op.get("tags") or ["other"])[0]
        section = operation(docs, method, path)
        heading = section.locator("h3").inner_text()
        assert method.upper() in heading and path in heading
        if op.get("summary"):
            assert section.locator(".summary").inner_text() == op["summary"]
        if op.get("description"):
            assert op["description"].replace("``", "") in section.locator(".description").inner_text()
        # every response code with its description
        codes = section.locator('table[data-table="responses"] tbody tr')
        assert codes.evaluate_all("rows => rows.map(r => r.dataset.code)") == list(op["responses"])
        for code, response in op["responses"].items():
            row = section.locator(f'table[data-table="responses"] tr[data-code="{code}"]')
            assert response["description"] in row.inner_text()
        # every parameter, in order
        params = section.locator('table[data-table="parameters"] tbody tr')
        names = params.evaluate_all("rows => rows.map(r => [r.dataset.param, r.dataset.in])")
        assert names == [[p["name"], p["in"]] for p in op.get("parameters", [])]
        assert section.locator("[data-request-body]").count() == (1 if "requestBody" in op else 0)
    docs.check()


def test_customers_shows_its_filters_the_sort_enum_and_the_limit_range(docs, spec):
    section = operation(docs, "get", "/customers")
    params = {p["name"]: p for p in spec["paths"]["/customers"]["get"]["parameters"]}
    assert {"segment", "sort", "limit", "cursor"} <= set(params)

    segment = section.locator('tr[data-param="segment"]')
    assert segment.locator("td").nth(0).inner_text() == "query"
    assert segment.locator("td").nth(1).inner_text() == "no"
    assert "string" in segment.locator(".type").inner_text()
    assert segment.locator('[data-constraint="maxLength"]').get_attribute("data-value") == "200"

    sort = section.locator('tr[data-param="sort"]')
    shown = sort.locator("[data-enum]").evaluate_all("els => els.map(e => e.dataset.enum)")
    assert shown == params["sort"]["schema"]["enum"]
    assert {"value", "-value", "customer_id", "-customer_id"} <= set(shown)
    assert sort.locator('[data-constraint="default"]').inner_text() == 'default "-value"'

    limit = section.locator('tr[data-param="limit"]')
    assert limit.locator('[data-constraint="minimum"]').get_attribute("data-value") == "1"
    assert limit.locator('[data-constraint="maximum"]').get_attribute("data-value") == "500"
    assert "minimum 1" in limit.inner_text() and "maximum 500" in limit.inner_text()
    assert "integer" in limit.locator(".type").inner_text()

    # a pattern on a request body field: POST /runs takes {"as_of": ...}
    body = operation(docs, "post", "/runs").locator("[data-request-body]")
    run_in = spec["components"]["schemas"]["RunIn"]
    as_of = body.locator('li[data-field="as_of"]')
    assert (
        as_of.locator('[data-constraint="pattern"]').get_attribute("data-value")
        == (run_in["properties"]["as_of"]["pattern"])
    )
    assert as_of.locator(".required").count() == 1
    docs.check()


def test_the_customer_response_lists_the_fields_of_customer_out_nested(docs, spec):
    schemas = spec["components"]["schemas"]
    response = spec["paths"]["/customers/{customer_id}"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"] == {"$ref": REF + "CustomerOut"}
    block = operation(docs, "get", "/customers/{customer_id}").locator(
        '[data-response="200"] .schema[data-schema="CustomerOut"]'
    )
    assert block.count() == 1
    top = block.locator(":scope > ul.fields > li[data-field]")
    assert top.evaluate_all("els => els.map(e => e.dataset.field)") == list(
        schemas["CustomerOut"]["properties"]
    )
    required = set(schemas["CustomerOut"]["required"])
    for name in schemas["CustomerOut"]["properties"]:
        item = block.locator(f':scope > ul.fields > li[data-field="{name}"]')
        assert item.locator(":scope > .required").count() == (1 if name in required else 0), name
    # types, with nullable fields readable
    assert (
        block.locator(':scope > ul.fields > li[data-field="segment"] > .type').inner_text() == "string | null"
    )
    history = block.locator(':scope > ul.fields > li[data-field="history"]')
    assert history.locator(":scope > .type").inner_text() == "array of HistoryPoint"
    # refs resolved, nested: value -> components -> name/value, and the history point's fields
    value = block.locator(':scope > ul.fields > li[data-field="value"]')
    assert value.locator(":scope > ul.fields > li[data-field]").evaluate_all(
        "els => els.map(e => e.dataset.field)"
    ) == list(schemas["Value"]["properties"])
    component = value.locator(':scope > ul.fields > li[data-field="components"] > ul.fields > li[data-field]')
    assert component.evaluate_all("els => els.map(e => e.dataset.field)") == list(
        schemas["Component"]["properties"]
    )
    assert history.locator(":scope > ul.fields > li[data-field]").evaluate_all(
        "els => els.map(e => e.dataset.field)"
    ) == list(schemas["HistoryPoint"]["properties"])
    # the type names link to the schema's own section, which exists
    link = history.locator(":scope > .type a")
    assert link.get_attribute("href") == "#schema-HistoryPoint"
    assert docs.page.locator('#schema-HistoryPoint[data-component="HistoryPoint"]').count() == 1
    # every named schema has its section
    shown = docs.page.eval_on_selector_all("section.component", "els => els.map(e => e.dataset.component)")
    assert shown == list(schemas)
    docs.check()


def test_error_responses_name_the_problem_schema(docs, spec):
    section = operation(docs, "get", "/customers/{customer_id}")
    row = section.locator('table[data-table="responses"] tr[data-code="404"]')
    assert "application/problem+json" in row.inner_text()
    assert row.locator('a[href="#schema-ProblemOut"]').count() == 1
    fields = docs.page.locator("#schema-ProblemOut ul.fields > li[data-field]")
    assert fields.evaluate_all("els => els.map(e => e.dataset.field)") == list(
        spec["components"]["schemas"]["ProblemOut"]["properties"]
    )
    docs.check()


def test_a_recursive_schema_is_named_not_expanded_forever(browser, served):
    """A description whose schema refers to itself (served in place of /openapi.json) renders and stops."""
    recursive = {
        "openapi": "3.1.0",
        "info": {"title": "tree <script>window.pwned=1</script>", "version": "9.9"},
        "paths": {
            "/nodes/{id}": {
                "get": {
                    "tags": ["trees"],
                    "summary": "Node",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {
                            "description": "a node <img src=x onerror=window.pwned=2>",
                            "content": {"application/json": {"schema": {"$ref": REF + "Node"}}},
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "children": {"type": "array", "items": {"$ref": REF + "Node"}},
                        "parent": {"anyOf": [{"$ref": REF + "Node"}, {"type": "null"}]},
                    },
                    "required": ["name"],
                }
            }
        },
    }
    d = DocsPage(browser, served)
    try:
        d.context.route(served.url + "/openapi.json", lambda route: route.fulfill(json=recursive, status=200))
        d.open("/dashboard/docs.html")
        block = d.page.locator('section.operation[data-operation="get /nodes/{id}"] [data-response="200"]')
        assert block.locator('li[data-field="children"] > [data-recursive="Node"]').count() == 1
        assert block.locator('li[data-field="parent"] > [data-recursive="Node"]').count() == 1
        assert block.locator('li[data-field="parent"] > .type').inner_text() == "Node | null"
        assert block.locator("li[data-field]").count() == 3  # one level: the recursion stopped
        # hostile strings in the description were shown as text
        assert "<script>" in d.page.inner_text("#api-title")
        assert "<img" in block.inner_text() or "<img" in d.page.inner_text("table[data-table=responses]")
        assert d.page.locator("main script, main img").count() == 0
        assert d.page.evaluate("window.pwned") is None
        d.check()
    finally:
        d.close()


# -- access ------------------------------------------------------------------------------------------------
def test_the_table_of_contents_links_every_section_and_works_from_the_keyboard(docs, spec):
    page = docs.page
    hrefs = page.eval_on_selector_all("#toc a", "els => els.map(e => e.getAttribute('href'))")
    assert all(h.startswith("#") for h in hrefs)
    missing = page.evaluate("hrefs => hrefs.filter(h => !document.getElementById(h.slice(1)))", hrefs)
    assert missing == []
    assert len(set(hrefs)) == len(hrefs)
    toc_ops = page.eval_on_selector_all("#toc a[data-operation]", "els => els.map(e => e.dataset.operation)")
    assert sorted(toc_ops) == sorted(
        f"{m} {p}" for p, item in spec["paths"].items() for m in item if m in METHODS
    )
    ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
    assert len(ids) == len(set(ids))  # anchors are unique

    # Tab: the skip link first, then the site links, then the contents
    page.keyboard.press("Tab")
    first = page.evaluate("[document.activeElement.className, document.activeElement.getAttribute('href')]")
    assert first == ["skip-link", "#main"]
    assert page.locator(".skip-link").is_visible()
    target = "#op-get-customers-customer_id"
    assert target in hrefs
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == target:
            break
    else:
        raise AssertionError(f"Tab never reached the contents link {target}")
    style, width = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert style != "none" and width >= 2  # a visible focus ring
    page.keyboard.press("Enter")
    page.wait_for_function(f"location.hash === '{target}'")
    box = page.locator(target).bounding_box()
    assert box is not None and 0 <= box["y"] < 900  # scrolled into view
    # the next Tab continues from the section reached: its first link or control
    page.keyboard.press("Tab")
    assert page.evaluate(f"document.querySelector('{target}').contains(document.activeElement)")
    # the skip link moves focus to the main content
    docs.open("/dashboard/docs.html")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    docs.check()


#: The WCAG contrast check run in the page (shared with the other browser tests of the service).
CONTRAST = (Path(__file__).with_name("wcag_contrast.js")).read_text(encoding="utf-8")


def test_every_visible_text_has_contrast_of_at_least_4_5(docs):
    page = docs.page
    result = page.evaluate(CONTRAST)
    assert result["failures"] == []
    assert result["checked"] > 1000  # the whole reference was measured, not just the header
    assert result["lowest"] >= 4.5
    # and with a contents link focused (the focus ring does not change the text colours)
    page.locator("#toc a").first.focus()
    assert page.evaluate(CONTRAST)["failures"] == []
    docs.check()
