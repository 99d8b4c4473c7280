/* socialvalue API reference: vanilla JavaScript, no library, no external resource.
 *
 * It reads the server's OpenAPI description (`/openapi.json`, no key needed) and renders it: the operations
 * grouped by tag, each with its summary, description, parameters (with their constraints), request body,
 * response codes and response schemas, the `#/components/schemas/...` references resolved into nested
 * field lists (a reference already being expanded is named, not expanded again), and a table of contents of
 * in-page anchors. Every string from the description goes into the page through textContent or
 * setAttribute, never as HTML.
 */
(function () {
  "use strict";

  const SPEC_URL = new URL("../openapi.json", document.baseURI); // the page is /dashboard/docs.html
  const METHODS = ["get", "put", "post", "patch", "delete", "head", "options", "trace"];
  const REF_PREFIX = "#/components/schemas/";
  const MAX_DEPTH = 8; // nesting beyond this is named and linked, not expanded
  const PUBLIC_PATHS = new Set(["/health"]); // docs/api.md: the endpoints that need no key
  const CONSTRAINTS = [
    ["minimum", "minimum"],
    ["exclusiveMinimum", "greater than"],
    ["maximum", "maximum"],
    ["exclusiveMaximum", "less than"],
    ["multipleOf", "multiple of"],
    ["minLength", "min length"],
    ["maxLength", "max length"],
    ["pattern", "pattern"],
    ["minItems", "min items"],
    ["maxItems", "max items"],
    ["uniqueItems", "unique items"],
    ["minProperties", "min properties"],
    ["maxProperties", "max properties"],
  ];

  /* ------------------------------------------------------------------ DOM helpers (text only, never HTML) */

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else if (child instanceof Node) node.appendChild(child);
      else node.appendChild(document.createTextNode(String(child)));
    }
    return node;
  }

  /** An element: el("td", {class: "num"}, "12"). Strings become text nodes; attributes are set as text. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    return append(node, children);
  }

  function byId(id) {
    return document.getElementById(id);
  }

  /** Text with ``code`` or `code` spans as <code> elements; blank lines separate paragraphs. */
  function prose(text, cls) {
    const out = [];
    for (const para of String(text).split(/\n\s*\n/)) {
      const trimmed = para.trim();
      if (!trimmed) continue;
      const p = el("p", { class: cls || null });
      const parts = trimmed.split(/``?([^`]+)``?/);
      parts.forEach((part, i) => append(p, [i % 2 ? el("code", {}, part) : part]));
      out.push(p);
    }
    return out;
  }

  /** A JSON value as text: strings quoted, so "1" and 1 read differently. */
  function literal(value) {
    return JSON.stringify(value);
  }

  /* ------------------------------------------------------------------ anchors */

  const usedIds = new Set();

  function anchor(prefix, text) {
    const base = prefix + "-" + (String(text).replace(/[^A-Za-z0-9_]+/g, "-").replace(/^-+|-+$/g, "") || "x");
    let id = base;
    for (let n = 2; usedIds.has(id) || document.getElementById(id); n++) id = base + "-" + n;
    usedIds.add(id);
    return id;
  }

  const schemaIds = new Map(); // component name -> element id of its section

  /* ------------------------------------------------------------------ schemas */

  function refName(ref) {
    return typeof ref === "string" && ref.startsWith(REF_PREFIX) ? decodeURIComponent(ref.slice(REF_PREFIX.length)) : null;
  }

  function isNull(s) {
    return s && (s.type === "null" || (Array.isArray(s.type) && s.type.length === 1 && s.type[0] === "null"));
  }

  /** The alternatives of a schema without its `null` one, and whether `null` was among them. */
  function alternatives(s) {
    const list = s.anyOf || s.oneOf;
    if (!Array.isArray(list)) return null;
    const rest = list.filter((x) => !isNull(x));
    return { rest, nullable: rest.length < list.length, kind: s.anyOf ? "any of" : "one of" };
  }

  /** Nodes naming a schema's type: "string", "array of Component", "integer | null", with links to components. */
  function typeLabel(spec, s) {
    if (!s || typeof s !== "object" || Object.keys(s).length === 0) return ["any"];
    if (s.$ref) {
      const name = refName(s.$ref);
      if (name === null) return [String(s.$ref)];
      const id = schemaIds.get(name);
      return [id ? el("a", { href: "#" + id, class: "type-ref" }, name) : name];
    }
    const alt = alternatives(s);
    if (alt) {
      const parts = [];
      alt.rest.forEach((x, i) => {
        if (i) parts.push(" | ");
        parts.push(...typeLabel(spec, x));
      });
      if (alt.nullable) parts.push(alt.rest.length ? " | null" : "null");
      return parts;
    }
    if (Array.isArray(s.allOf)) {
      const parts = [];
      s.allOf.forEach((x, i) => {
        if (i) parts.push(" & ");
        parts.push(...typeLabel(spec, x));
      });
      return parts;
    }
    if (s.const !== undefined) return ["constant " + literal(s.const)];
    const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
    if (types.length === 0) return s.properties ? ["object"] : s.enum ? ["enum"] : ["any"];
    const parts = [];
    types.forEach((t, i) => {
      if (i) parts.push(" | ");
      if (t === "array") {
        parts.push("array of ");
        parts.push(...typeLabel(spec, s.items));
      } else if (t === "object" && !s.properties && s.additionalProperties && typeof s.additionalProperties === "object") {
        parts.push("map of string to ");
        parts.push(...typeLabel(spec, s.additionalProperties));
      } else if (t === "object" && !s.properties && s.additionalProperties !== false) {
        parts.push("object (any keys)");
      } else {
        parts.push(s.format ? `${t} (${s.format})` : t);
      }
    });
    return parts;
  }

  /** The constraints of a schema and of its inline alternatives: [{key, label, value}]. */
  function constraints(s) {
    const found = [];
    const seen = new Set();
    const visit = (x) => {
      if (!x || typeof x !== "object" || x.$ref) return;
      for (const [key, label] of CONSTRAINTS) {
        if (x[key] === undefined || seen.has(key)) continue;
        seen.add(key);
        found.push({ key, label, value: x[key] });
      }
      if (Array.isArray(x.enum) && !seen.has("enum")) {
        seen.add("enum");
        found.push({ key: "enum", label: "one of", value: x.enum });
      }
      const alt = alternatives(x);
      if (alt) alt.rest.forEach(visit);
    };
    visit(s);
    if (s && s.default !== undefined) found.push({ key: "default", label: "default", value: s.default });
    return found;
  }

  function constraintList(s) {
    const items = constraints(s);
    if (!items.length) return null;
    const list = el("ul", { class: "constraints" });
    for (const c of items) {
      const li = el("li", { "data-constraint": c.key });
      if (c.key === "enum") {
        append(li, [c.label + ": "]);
        c.value.forEach((v, i) => append(li, [i ? ", " : null, el("code", { "data-enum": String(v) }, literal(v))]));
      } else if (c.key === "uniqueItems") {
        if (!c.value) continue;
        append(li, [c.label]);
      } else {
        li.setAttribute("data-value", typeof c.value === "string" ? c.value : JSON.stringify(c.value));
        append(li, [c.label + " ", el("code", {}, c.key === "pattern" ? String(c.value) : literal(c.value))]);
      }
      list.appendChild(li);
    }
    return list.childNodes.length ? list : null;
  }

  /** The object a schema describes fields of (through refs, nullability and arrays), or null. */
  function expandable(spec, s, stack) {
    let current = s;
    const refs = [];
    for (let hops = 0; current && hops < 16; hops++) {
      if (current.$ref) {
        const name = refName(current.$ref);
        const target = name !== null && spec.components && spec.components.schemas && spec.components.schemas[name];
        if (!target) return null;
        if (stack.includes(name) || refs.includes(name)) return { recursive: name };
        refs.push(name);
        current = target;
        continue;
      }
      const alt = alternatives(current);
      if (alt) {
        if (alt.rest.length !== 1) return alt.rest.length ? { choices: alt.rest, kind: alt.kind, refs } : null;
        current = alt.rest[0];
        continue;
      }
      if (Array.isArray(current.allOf) && current.allOf.length === 1) {
        current = current.allOf[0];
        continue;
      }
      if (current.type === "array" && current.items) {
        current = current.items;
        continue;
      }
      if (current.type === "object" && !current.properties && current.additionalProperties &&
          typeof current.additionalProperties === "object") {
        current = current.additionalProperties;
        continue;
      }
      if (current.properties) return { object: current, refs };
      return null;
    }
    return null;
  }

  /** A nested list of a schema's fields: <ul class="fields"><li data-field=...>; `top`: the body's own. */
  function fieldList(spec, obj, stack, depth, top) {
    const required = new Set(obj.required || []);
    const list = el("ul", { class: "fields" });
    for (const [name, prop] of Object.entries(obj.properties || {})) {
      const li = el(
        "li",
        { "data-field": name },
        el("code", { class: "field-name" }, name),
        " ",
        el("span", { class: "type" }, typeLabel(spec, prop)),
        " ",
        el("span", { class: required.has(name) ? "required" : "optional" }, required.has(name) ? "required" : "optional"),
      );
      const description = prop.description || (prop.title && prop.title.toLowerCase() !== name.replace(/_/g, " ").toLowerCase() ? prop.title : null);
      if (description) append(li, prose(description, "field-doc"));
      append(li, [constraintList(prop)]);
      append(li, [nested(spec, prop, stack, depth + 1)]);
      list.appendChild(li);
    }
    if (top && obj.additionalProperties && Object.keys(obj.properties || {}).length) {
      list.appendChild(el("li", { class: "note", "data-field-extra": "" }, "other fields may follow"));
    }
    return list;
  }

  /** The fields under a property or a body schema, or a note when it is recursive or too deep. */
  function nested(spec, s, stack, depth, top) {
    const found = expandable(spec, s, stack);
    if (!found) return null;
    if (found.recursive) {
      const id = schemaIds.get(found.recursive);
      return el("p", { class: "note", "data-recursive": found.recursive }, "recursive: the fields of ",
        id ? el("a", { href: "#" + id }, found.recursive) : found.recursive, " are listed above");
    }
    if (found.choices) {
      const list = el("ul", { class: "choices" });
      for (const choice of found.choices) {
        list.appendChild(el("li", {}, found.kind + ": ", typeLabel(spec, choice), nested(spec, choice, stack, depth)));
      }
      return list;
    }
    if (depth > MAX_DEPTH) {
      // a named schema is linked from the type already; an inline one is named here
      return found.refs.length ? null : el("p", { class: "note" }, "nested further: ", typeLabel(spec, s));
    }
    return fieldList(spec, found.object, stack.concat(found.refs), depth, top);
  }

  /** A body's schema block: its type line, its description and its fields, expanded through references. */
  function schemaBlock(spec, s) {
    const name = s && s.$ref ? refName(s.$ref) : null;
    const block = el("div", { class: "schema", "data-schema": name || "inline" });
    append(block, [el("p", { class: "schema-type" }, "Type: ", el("span", { class: "type" }, typeLabel(spec, s)))]);
    const target = name && spec.components && spec.components.schemas ? spec.components.schemas[name] : null;
    if (target && target.description) append(block, prose(target.description, "schema-doc"));
    append(block, [constraintList(s), nested(spec, s, [], 0, true)]);
    return block;
  }

  /** A named schema's block in the Schemas section: its own fields; those of other schemas are linked. */
  function componentBlock(spec, name, s) {
    const block = el("div", { class: "schema", "data-schema": name });
    append(block, [el("p", { class: "schema-type" }, "Type: ", el("span", { class: "type" }, typeLabel(spec, s)))]);
    if (s.description) append(block, prose(s.description, "schema-doc"));
    append(block, [constraintList(s), nested(spec, s, [name], MAX_DEPTH, true)]);
    return block;
  }

  /* ------------------------------------------------------------------ operations */

  function keyNeeded(spec, path, method, op) {
    const security = op.security || spec.security;
    if (Array.isArray(security)) {
      if (security.length === 0) return "none";
      return security.map((req) => Object.keys(req).join(" + ") || "none").join(" or ");
    }
    if (PUBLIC_PATHS.has(path)) return "none";
    return method === "get" ? "read" : "write";
  }

  function paramSchema(p) {
    return p.schema || (p.content && Object.values(p.content)[0] && Object.values(p.content)[0].schema) || {};
  }

  function parametersTable(spec, params) {
    const described = params.some((p) => p.description || paramSchema(p).description || p.deprecated);
    const headings = ["Name", "In", "Required", "Type", "Constraints"].concat(described ? ["Description"] : []);
    const table = el(
      "table",
      { class: "params", "data-table": "parameters" },
      el("caption", {}, "Parameters"),
      el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h)))),
    );
    const body = el("tbody");
    for (const p of params) {
      const schema = paramSchema(p);
      const description = p.description || schema.description || "";
      body.appendChild(
        el(
          "tr",
          { "data-param": p.name, "data-in": p.in, "data-required": p.required ? "true" : "false" },
          el("th", { scope: "row" }, el("code", {}, p.name)),
          el("td", {}, p.in),
          el("td", {}, p.required ? "yes" : "no"),
          el("td", {}, el("span", { class: "type" }, typeLabel(spec, schema))),
          el("td", {}, constraintList(schema) || "none"),
          described ? el("td", {}, description ? prose(description) : "", p.deprecated ? " (deprecated)" : "") : null,
        ),
      );
    }
    table.appendChild(body);
    return table;
  }

  function resolveParam(spec, p) {
    if (p && p.$ref && p.$ref.startsWith("#/components/parameters/")) {
      const name = decodeURIComponent(p.$ref.slice("#/components/parameters/".length));
      return (spec.components && spec.components.parameters && spec.components.parameters[name]) || p;
    }
    return p;
  }

  function responsesBlock(spec, op, opId) {
    const wrap = el("div", { class: "responses" }, el("h4", {}, "Responses"));
    const table = el(
      "table",
      { class: "responses-table", "data-table": "responses" },
      el("caption", {}, "Response codes"),
      el("thead", {}, el("tr", {}, ["Code", "Description", "Media types", "Schema"].map((h) => el("th", { scope: "col" }, h)))),
    );
    const body = el("tbody");
    const bodies = [];
    for (const [code, response] of Object.entries(op.responses || {})) {
      const content = response.content || {};
      const types = Object.keys(content);
      const schemas = [];
      for (const t of types) if (content[t] && content[t].schema) schemas.push([t, content[t].schema]);
      body.appendChild(
        el(
          "tr",
          { "data-code": code },
          el("th", { scope: "row" }, el("code", {}, code)),
          el("td", {}, response.description ? prose(response.description) : ""),
          el("td", {}, types.length ? types.map((t, i) => [i ? ", " : null, el("code", {}, t)]) : "none"),
          el("td", {}, schemas.length ? schemas.map(([, s], i) => [i ? ", " : null, el("span", { class: "type" }, typeLabel(spec, s))]) : "none"),
        ),
      );
      if (/^2/.test(code)) for (const [t, s] of schemas) bodies.push([code, t, s]);
    }
    table.appendChild(body);
    wrap.appendChild(table);
    for (const [code, type, schema] of bodies) {
      const title = anchor(opId + "-response", code + "-" + type);
      wrap.appendChild(
        el(
          "div",
          { class: "body-schema", "data-response": code, "data-media-type": type, "aria-labelledby": title },
          el("h5", { id: title }, "Response ", el("code", {}, code), " body (", el("code", {}, type), ")"),
          schemaBlock(spec, schema),
        ),
      );
    }
    return wrap;
  }

  function requestBlock(spec, op) {
    let rb = op.requestBody;
    if (!rb) return null;
    if (rb.$ref && rb.$ref.startsWith("#/components/requestBodies/")) {
      rb = (spec.components.requestBodies || {})[decodeURIComponent(rb.$ref.slice("#/components/requestBodies/".length))] || rb;
    }
    const wrap = el("div", { class: "request-body", "data-request-body": "" },
      el("h4", {}, "Request body", rb.required ? " (required)" : " (optional)"));
    if (rb.description) append(wrap, prose(rb.description));
    for (const [type, media] of Object.entries(rb.content || {})) {
      append(wrap, [el("p", {}, "Media type ", el("code", {}, type))]);
      if (media && media.schema) wrap.appendChild(schemaBlock(spec, media.schema));
    }
    return wrap;
  }

  function operationSection(spec, path, method, op, id) {
    const headingId = id + "-title";
    const section = el(
      "section",
      { id, class: "operation", "data-operation": method + " " + path, "data-method": method, "data-path": path, "aria-labelledby": headingId },
      el("h3", { id: headingId }, el("span", { class: "method method-" + method }, method.toUpperCase()), " ", el("code", { class: "path" }, path)),
    );
    if (op.summary) section.appendChild(el("p", { class: "summary" }, op.summary));
    if (op.description) append(section, prose(op.description, "description"));
    if (op.deprecated) section.appendChild(el("p", { class: "note" }, "Deprecated."));
    const key = keyNeeded(spec, path, method, op);
    section.appendChild(
      el("p", { class: "key-needed", "data-key": key }, "API key: ",
        key === "none" ? "none needed" : el("code", {}, key), key === "none" ? "" : " role or above"),
    );
    const params = (op.parameters || []).map((p) => resolveParam(spec, p));
    if (params.length) section.appendChild(parametersTable(spec, params));
    else section.appendChild(el("p", { class: "muted" }, "No parameters."));
    append(section, [requestBlock(spec, op), responsesBlock(spec, op, id)]);
    return section;
  }

  /* ------------------------------------------------------------------ the page */

  function operations(spec) {
    const ops = [];
    for (const [path, item] of Object.entries(spec.paths || {})) {
      const shared = item.parameters || [];
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const own = op.parameters || [];
        const names = new Set(own.map((p) => p.in + ":" + p.name));
        const parameters = shared.filter((p) => !names.has(p.in + ":" + p.name)).concat(own);
        ops.push({ path, method, op: Object.assign({}, op, { parameters }) });
      }
    }
    return ops;
  }

  function groupByTag(spec, ops) {
    const groups = new Map();
    for (const t of spec.tags || []) groups.set(t.name, { tag: t, ops: [] });
    for (const o of ops) {
      const tag = (o.op.tags && o.op.tags[0]) || "other";
      if (!groups.has(tag)) groups.set(tag, { tag: { name: tag }, ops: [] });
      groups.get(tag).ops.push(o);
    }
    return [...groups.values()].filter((g) => g.ops.length);
  }

  function render(spec) {
    const info = spec.info || {};
    const title = (info.title || "API") + (info.version ? " " + info.version : "");
    document.title = title + " API reference";
    byId("api-title").textContent = (info.title || "API") + " API reference";
    const summary = byId("api-summary");
    summary.textContent = info.summary || info.description || "";
    const version = byId("api-version");
    version.textContent = "";
    append(version, [
      "Version ", el("strong", { "data-version": info.version || "" }, info.version || "unknown"),
      " of ", el("strong", {}, info.title || "the API"), ", described in OpenAPI ", spec.openapi || "?", ".",
    ]);

    const schemas = (spec.components && spec.components.schemas) || {};
    for (const name of Object.keys(schemas)) schemaIds.set(name, anchor("schema", name));

    const reference = byId("reference");
    reference.textContent = "";
    const toc = byId("toc-list");
    if (info.description && info.summary) append(reference, prose(info.description));

    for (const group of groupByTag(spec, operations(spec))) {
      const tagId = anchor("tag", group.tag.name);
      const opsToc = el("ul");
      const section = el(
        "section",
        { id: tagId, class: "panel tag", "data-tag": group.tag.name, "aria-labelledby": tagId + "-title" },
        el("h2", { id: tagId + "-title" }, "Endpoints: ", group.tag.name),
      );
      if (group.tag.description) append(section, prose(group.tag.description));
      for (const { path, method, op } of group.ops) {
        const id = anchor("op", method + "-" + path);
        section.appendChild(operationSection(spec, path, method, op, id));
        opsToc.appendChild(
          el("li", {}, el("a", { href: "#" + id, "data-operation": method + " " + path },
            el("span", { class: "toc-method" }, method.toUpperCase()), " ", el("span", { class: "toc-path" }, path))),
        );
      }
      reference.appendChild(section);
      toc.appendChild(el("li", {}, el("a", { href: "#" + tagId }, group.tag.name), opsToc));
    }

    const names = Object.keys(schemas);
    if (names.length) {
      const section = el(
        "section",
        { id: "schemas", class: "panel", "aria-labelledby": "schemas-title" },
        el("h2", { id: "schemas-title" }, "Schemas"),
        el("p", { class: "muted" }, "Every named schema of the description, with its fields; a field whose type is another schema links to it."),
      );
      const schemasToc = el("ul", { class: "toc-schemas" });
      for (const name of names) {
        const id = schemaIds.get(name);
        section.appendChild(
          el("section", { id, class: "component", "data-component": name, "aria-labelledby": id + "-title" },
            el("h3", { id: id + "-title" }, name),
            componentBlock(spec, name, schemas[name])),
        );
        schemasToc.appendChild(el("li", {}, el("a", { href: "#" + id }, name)));
      }
      reference.appendChild(section);
      toc.appendChild(el("li", {}, el("a", { href: "#schemas" }, "Schemas"), schemasToc));
    }
  }

  function fail(message) {
    const alerts = byId("alerts");
    alerts.textContent = "";
    append(alerts, [el("p", {}, message)]);
    alerts.hidden = false;
    const note = byId("loading-note");
    if (note) note.textContent = "The API description could not be loaded.";
  }

  async function load() {
    let response;
    try {
      response = await fetch(SPEC_URL, { headers: { Accept: "application/json" }, credentials: "omit" });
    } catch (err) {
      fail("The API description could not be fetched from /openapi.json: " + err.message);
      document.body.dataset.state = "error";
      return;
    }
    if (!response.ok) {
      fail(`The server answered ${response.status} for /openapi.json.`);
      document.body.dataset.state = "error";
      return;
    }
    try {
      render(await response.json());
    } catch (err) {
      fail("The API description could not be read: " + err.message);
      document.body.dataset.state = "error";
      return;
    }
    document.body.dataset.state = "ready";
    // the page was opened at an anchor that exists only now: go there
    if (location.hash.length > 1) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", load);
  else load();
})();
