/* socialvalue dashboard: vanilla JavaScript, no library, no external resource.
 *
 * It reads the REST API of `socialvalue serve` (docs/api.md) with the API key the user gives, kept in
 * sessionStorage for this tab only and sent as `Authorization: Bearer <key>`. Every string from the API goes
 * into the page through textContent or setAttribute, never as HTML: customer ids and labels are data, and
 * data may be hostile. Charts are inline SVG drawn here, each an <svg role="img"> with a <title> and a
 * <desc>, its data also in a table beside it.
 */
(function () {
  "use strict";

  const KEY_STORAGE = "socialvalue.apiKey";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const API_ROOT = new URL("../", document.baseURI); // the dashboard lives at /dashboard/, the API at /
  const PAGE_SIZE = 50;
  const TOP_K = 20;
  const STAGE_ORDER = ["introduction", "growth", "maturity", "decline", "churned"];

  const KPI_LABELS = {
    customers: ["Customers", "count"],
    total_value: ["Total value (CLV + social value)", "money"],
    total_clv: ["Total CLV", "money"],
    total_social_value: ["Total social value", "money"],
    mean_value: ["Mean value per customer", "money"],
    churn_alerts: ["Churn alerts", "count"],
    influencers: ["Influencers", "count"],
    customers_with_action: ["Customers with an action", "count"],
  };

  const state = {
    key: null,
    currency: null,
    horizon: null,
    generation: 0, // bumped on every key change: late answers for an older key are dropped
    filter: { params: {}, cursors: [null], page: 0 },
  };

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

  function setAttrs(node, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else if (value === true) node.setAttribute(name, "");
      else node.setAttribute(name, String(value));
    }
    return node;
  }

  /** An HTML element: el("td", {class: "num"}, "12"). Strings become text nodes. */
  function el(tag, attrs, ...children) {
    return append(setAttrs(document.createElement(tag), attrs), children);
  }

  /** An SVG element, the same way. */
  function svgEl(tag, attrs, ...children) {
    return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function shorten(text, max) {
    const s = String(text);
    return s.length <= max ? s : s.slice(0, max - 1) + "…";
  }

  function humanise(name) {
    const s = String(name).replace(/_/g, " ");
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  /* ------------------------------------------------------------------ formatting */

  function isNumber(v) {
    return typeof v === "number" && Number.isFinite(v);
  }

  function fmtCount(v) {
    return isNumber(v) ? new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 }).format(v) : "–";
  }

  function fmtNumber(v, digits) {
    if (!isNumber(v)) return "–";
    return new Intl.NumberFormat("en-US", { maximumFractionDigits: digits === undefined ? 2 : digits }).format(v);
  }

  function fmtCompact(v) {
    if (!isNumber(v)) return "–";
    return new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 }).format(v);
  }

  function fmtMoney(v, currency) {
    if (!isNumber(v)) return "–";
    const code = currency || state.currency;
    const digits = Math.abs(v) >= 1000 || v === 0 ? 0 : 2;
    if (code) {
      try {
        return new Intl.NumberFormat("en-US", {
          style: "currency",
          currency: code,
          maximumFractionDigits: digits,
          minimumFractionDigits: digits,
        }).format(v);
      } catch (err) {
        // not an ISO 4217 code: the number, then the code as the API gave it
        return fmtNumber(v, digits) + " " + code;
      }
    }
    return fmtNumber(v, digits);
  }

  function fmtPercent(v) {
    return isNumber(v) ? (v * 100).toFixed(1) + " %" : "–";
  }

  function fmtText(v) {
    return v === null || v === undefined || v === "" ? "–" : String(v);
  }

  function yesNo(v) {
    return v === true ? "yes" : v === false ? "no" : "–";
  }

  /* ------------------------------------------------------------------ the API */

  class ApiError extends Error {
    constructor(status, problem, path) {
      super((problem && (problem.detail || problem.title)) || "request failed");
      this.status = status;
      this.problem = problem || {};
      this.path = path;
    }
  }

  /**
   * Fetch one API path with the key. `as` is "json" (default) or "blob". A non-2xx answer becomes an
   * ApiError carrying the problem document (RFC 9457), or a stand-in when the body is not one.
   */
  async function api(path, params, as) {
    const url = new URL(path, API_ROOT);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, String(value));
    }
    const headers = { Authorization: "Bearer " + state.key };
    headers.Accept = as === "blob" ? "text/csv, application/problem+json" : "application/json";
    let response;
    try {
      response = await fetch(url, { headers, credentials: "same-origin", cache: "no-store" });
    } catch (err) {
      throw new ApiError(0, { title: "The server cannot be reached", detail: String((err && err.message) || err) }, path);
    }
    if (!response.ok) {
      let problem = null;
      try {
        problem = JSON.parse(await response.text());
      } catch (err) {
        problem = null;
      }
      if (!problem || typeof problem !== "object" || Array.isArray(problem)) {
        problem = { title: response.statusText || "Request failed", status: response.status };
      }
      throw new ApiError(response.status, problem, path);
    }
    return as === "blob" ? response.blob() : response.json();
  }

  /* ------------------------------------------------------------------ errors, shown and never thrown away */

  function problemNodes(err, context) {
    const problem = err instanceof ApiError ? err.problem : { title: "Unexpected error", detail: String(err) };
    const status = err instanceof ApiError && err.status ? err.status + " " : "";
    const nodes = [
      el("p", { class: "problem-title" }, context ? context + ": " : "", status, fmtText(problem.title || "Error")),
    ];
    if (problem.detail) nodes.push(el("p", { class: "problem-detail" }, String(problem.detail)));
    if (Array.isArray(problem.errors) && problem.errors.length) {
      const list = el("ul", { class: "problem-errors" });
      for (const item of problem.errors.slice(0, 50)) {
        if (item && typeof item === "object") {
          const parts = [];
          for (const name of ["file", "row", "column", "value", "expected", "fix"]) {
            if (item[name] !== undefined && item[name] !== null) parts.push(name + ": " + String(item[name]));
          }
          list.appendChild(el("li", {}, parts.join("; ")));
        } else {
          list.appendChild(el("li", {}, String(item)));
        }
      }
      nodes.push(list);
    }
    return nodes;
  }

  function showProblem(err, context) {
    const alerts = byId("alerts");
    const problem = err instanceof ApiError ? err.problem : {};
    // one answer met by several views (a refused key) is shown once, naming every view
    const same = [err instanceof ApiError ? err.status : "", problem.title, problem.detail].map(String).join("\u0000");
    const shown = [...alerts.children].find((node) => node.svSame === same && !(problem.errors || []).length);
    if (shown && context) {
      shown.svContexts.push(context);
      shown.replaceChildren(...problemNodes(err, shown.svContexts.join(", ")));
    } else {
      const node = el("div", { class: "problem", "data-status": err instanceof ApiError ? err.status : "" }, problemNodes(err, context));
      node.svSame = same;
      node.svContexts = context ? [context] : [];
      alerts.appendChild(node);
    }
    alerts.hidden = false;
    if (err instanceof ApiError && err.status === 401) {
      try {
        sessionStorage.removeItem(KEY_STORAGE); // a refused key is not offered again on the next visit
      } catch (e) {
        // nothing stored
      }
      byId("key-state").textContent = "The server refused this key (401). Give another key.";
    } else if (err instanceof ApiError && err.status === 403) {
      byId("key-state").textContent = "This key's role may not read this (403).";
    }
  }

  function clearProblems() {
    const alerts = byId("alerts");
    alerts.replaceChildren();
    alerts.hidden = true;
  }

  /* ------------------------------------------------------------------ charts */

  function chartFrame(name, title, description, width, height) {
    const svg = svgEl("svg", {
      class: "chart",
      role: "img",
      "data-chart": name,
      viewBox: "0 0 " + width + " " + height,
      width: width,
      height: height,
      "aria-label": title + ". " + description,
      focusable: "false",
    });
    svg.appendChild(svgEl("title", {}, title));
    svg.appendChild(svgEl("desc", {}, description));
    return svg;
  }

  function describeRows(rows, fmt) {
    const shown = rows.slice(0, 30).map((r) => r.label + ": " + fmt(r.value));
    return shown.join("; ") + (rows.length > 30 ? "; and " + (rows.length - 30) + " more" : "") + ".";
  }

  /**
   * Horizontal bar chart. rows: [{label, value}]; negative values grow left of the zero line.
   */
  function barChart(name, title, rows, fmt) {
    const width = 640;
    const rowHeight = 26;
    const top = 8;
    const labelChars = Math.min(26, Math.max(6, ...rows.map((r) => String(r.label).length)));
    const left = 12 + labelChars * 7;
    const right = 90;
    const height = top * 2 + Math.max(1, rows.length) * rowHeight;
    const values = rows.map((r) => (isNumber(r.value) ? r.value : 0));
    const lo = Math.min(0, ...values);
    const hi = Math.max(0, ...values);
    const span = hi - lo || 1;
    const plot = width - left - right;
    const x = (v) => left + ((v - lo) / span) * plot;
    const svg = chartFrame(name, title, describeRows(rows, fmt), width, height);
    const zero = x(0);
    svg.appendChild(svgEl("line", { class: "axis-line", x1: zero, x2: zero, y1: top, y2: height - top, stroke: "#8a8f98" }));
    rows.forEach((row, i) => {
      const v = values[i];
      const y = top + i * rowHeight;
      const x0 = Math.min(x(v), zero);
      const w = Math.max(Math.abs(x(v) - zero), v === 0 ? 0 : 1);
      const g = svgEl("g", { "data-row": i });
      g.appendChild(svgEl("title", {}, row.label + ": " + fmt(row.value)));
      g.appendChild(svgEl("text", { x: left - 8, y: y + rowHeight / 2 + 4, "text-anchor": "end" }, shorten(row.label, 26)));
      g.appendChild(
        svgEl("rect", {
          class: v < 0 ? "bar negative" : "bar",
          "data-bar": i,
          "data-value": row.value,
          x: x0,
          y: y + 4,
          width: w,
          height: rowHeight - 8,
        })
      );
      const labelX = v < 0 ? zero + 4 : x(v) + 4;
      g.appendChild(svgEl("text", { x: labelX, y: y + rowHeight / 2 + 4, "text-anchor": "start" }, fmt(row.value)));
      svg.appendChild(g);
    });
    return svg;
  }

  /** Histogram from bin edges (n + 1) and counts (n). */
  function histogram(name, title, edges, counts, measureText, fmtEdge) {
    const width = 640;
    const height = 270;
    const m = { left: 56, right: 16, top: 12, bottom: 56 };
    const n = counts.length;
    const plotW = width - m.left - m.right;
    const plotH = height - m.top - m.bottom;
    const maxCount = Math.max(1, ...counts.map((c) => (isNumber(c) ? c : 0)));
    const bw = plotW / Math.max(1, n);
    const rows = counts.map((c, i) => ({ label: fmtEdge(edges[i]) + " to " + fmtEdge(edges[i + 1]), value: c }));
    const svg = chartFrame(name, title, "Customers by " + measureText + ", in " + n + " bins: " + describeRows(rows, fmtCount), width, height);
    const axis = svgEl("g", { class: "axis" });
    const yBase = m.top + plotH;
    axis.appendChild(svgEl("line", { x1: m.left, x2: width - m.right, y1: yBase, y2: yBase }));
    axis.appendChild(svgEl("line", { x1: m.left, x2: m.left, y1: m.top, y2: yBase }));
    for (const t of [0, maxCount / 2, maxCount]) {
      const y = yBase - (t / maxCount) * plotH;
      axis.appendChild(svgEl("line", { x1: m.left - 4, x2: m.left, y1: y, y2: y }));
      axis.appendChild(svgEl("text", { x: m.left - 7, y: y + 4, "text-anchor": "end" }, fmtCompact(Math.round(t))));
    }
    const step = Math.max(1, Math.ceil((n + 1) / 6));
    for (let i = 0; i <= n; i += step) {
      const xx = m.left + i * bw;
      axis.appendChild(svgEl("line", { x1: xx, x2: xx, y1: yBase, y2: yBase + 4 }));
      axis.appendChild(svgEl("text", { x: xx, y: yBase + 18, "text-anchor": "middle" }, fmtEdge(edges[i])));
    }
    axis.appendChild(svgEl("text", { x: m.left + plotW / 2, y: height - 10, "text-anchor": "middle" }, measureText));
    axis.appendChild(
      svgEl("text", { x: 14, y: m.top + plotH / 2, "text-anchor": "middle", transform: "rotate(-90 14 " + (m.top + plotH / 2) + ")" }, "customers")
    );
    svg.appendChild(axis);
    counts.forEach((c, i) => {
      const v = isNumber(c) ? c : 0;
      const h = (v / maxCount) * plotH;
      const rect = svgEl("rect", {
        class: "bar",
        "data-bar": i,
        "data-value": c,
        x: m.left + i * bw + 1,
        y: yBase - h,
        width: Math.max(1, bw - 2),
        height: h,
      });
      rect.appendChild(svgEl("title", {}, rows[i].label + ": " + fmtCount(c) + " customers"));
      svg.appendChild(rect);
    });
    return { svg, rows };
  }

  /**
   * The influencer network: nodes on a circle in rank order (deterministic), area by influencer score,
   * arrows for the follow edges among them. Labels are the ids, shortened; the table beside it has them whole.
   */
  function networkChart(items, edges) {
    const width = 760;
    const height = 600;
    const cx = width / 2;
    const cy = height / 2;
    const ring = items.length > 1 ? 215 : 0;
    const scores = items.map((it) => (isNumber(it.influencer_score) && it.influencer_score > 0 ? it.influencer_score : 0));
    const maxScore = Math.max(0, ...scores) || 1;
    const nodes = new Map();
    items.forEach((it, i) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, items.length);
      const r = 5 + 13 * Math.sqrt(scores[i] / maxScore);
      nodes.set(String(it.customer_id), { item: it, rank: i + 1, angle, r, x: cx + ring * Math.cos(angle), y: cy + ring * Math.sin(angle) });
    });
    const shown = (edges || []).filter((e) => nodes.has(String(e.source)) && nodes.has(String(e.target)) && String(e.source) !== String(e.target));
    const description =
      items.length +
      " customers with the highest influencer score, placed on a circle in rank order starting at the top and going clockwise; " +
      "a larger circle is a higher score. " +
      shown.length +
      " arrows show who follows whom among them (from follower to followed). The table beside lists them in rank order.";
    const svg = chartFrame("influencer_network", "Influencer network of the top " + items.length, description, width, height);
    const defs = svgEl("defs");
    defs.appendChild(
      svgEl("marker", { id: "sv-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        svgEl("path", { class: "arrow", d: "M 0 0 L 10 5 L 0 10 z" }))
    );
    svg.appendChild(defs);
    const edgeGroup = svgEl("g", { class: "edges" });
    for (const e of shown) {
      const a = nodes.get(String(e.source));
      const b = nodes.get(String(e.target));
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const len = Math.hypot(dx, dy) || 1;
      edgeGroup.appendChild(
        svgEl("line", {
          class: "edge",
          "data-edge": "",
          x1: a.x + (dx / len) * (a.r + 1),
          y1: a.y + (dy / len) * (a.r + 1),
          x2: b.x - (dx / len) * (b.r + 3),
          y2: b.y - (dy / len) * (b.r + 3),
          "marker-end": "url(#sv-arrow)",
        }, svgEl("title", {}, String(e.source) + " follows " + String(e.target)))
      );
    }
    svg.appendChild(edgeGroup);
    for (const [id, node] of nodes) {
      const g = svgEl("g", { "data-node": node.rank, "data-customer-id": id });
      g.appendChild(svgEl("title", {}, "#" + node.rank + " " + id + ": influencer score " + fmtNumber(node.item.influencer_score, 3)));
      g.appendChild(svgEl("circle", { class: "node", cx: node.x, cy: node.y, r: node.r }));
      const cos = Math.cos(node.angle);
      const sin = Math.sin(node.angle);
      const out = node.r + 6;
      const anchor = items.length === 1 ? "middle" : cos > 0.3 ? "start" : cos < -0.3 ? "end" : "middle";
      const lx = node.x + (items.length === 1 ? 0 : cos * out);
      const ly = node.y + (items.length === 1 ? node.r + 16 : sin * out + (sin > 0.3 ? 12 : sin < -0.3 ? -4 : 4));
      g.appendChild(svgEl("text", { x: lx, y: ly, "text-anchor": anchor, class: "node-label" }, shorten(id, 14)));
      svg.appendChild(g);
    }
    return svg;
  }

  /* ------------------------------------------------------------------ tables */

  /**
   * A table: columns [{title, value: row => text|Node, num: bool}]. Cells get textContent (or the node).
   */
  function table(name, caption, columns, rows, extraRowAttrs) {
    const t = el("table", { "data-table": name });
    if (caption) t.appendChild(el("caption", {}, caption));
    const head = el("tr");
    for (const c of columns) head.appendChild(el("th", { scope: "col", class: c.num ? "num" : null }, c.title));
    t.appendChild(el("thead", {}, head));
    const body = el("tbody");
    rows.forEach((row, i) => {
      const tr = el("tr", extraRowAttrs ? extraRowAttrs(row, i) : {});
      columns.forEach((c, j) => {
        const value = c.value(row, i);
        const cell = j === 0 && c.header ? el("th", { scope: "row" }) : el("td", { class: c.num ? "num" : c.id ? "id" : null });
        append(cell, [value]);
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
    t.appendChild(body);
    return t;
  }

  function scrollTable(tbl, label) {
    return el("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": label }, tbl);
  }

  function chartBlock(caption, chart, tbl, tableLabel, wide) {
    return el(
      "div",
      { class: wide ? "chart-block wide" : "chart-block" },
      el("figure", {}, el("figcaption", {}, caption), chart),
      scrollTable(tbl, tableLabel)
    );
  }

  /** A customer id as a button that looks the customer up. */
  function customerButton(id) {
    const b = el("button", { type: "button", class: "link", "data-lookup": id }, String(id));
    b.addEventListener("click", () => {
      byId("lookup-id").value = String(id);
      lookup(String(id));
      byId("lookup").scrollIntoView();
    });
    return b;
  }

  function stageRank(stage) {
    const i = STAGE_ORDER.indexOf(stage);
    return i === -1 ? STAGE_ORDER.length : i;
  }

  function sortStages(list) {
    return [...list].sort((a, b) => stageRank(a) - stageRank(b) || String(a).localeCompare(String(b)));
  }

  /* ------------------------------------------------------------------ 1. Overview */

  function renderOverview(ov) {
    const run = ov.run || {};
    state.currency = run.currency || null;
    state.horizon = run.clv_horizon || null;
    const info = byId("run-info");
    info.replaceChildren(
      "Last published run ",
      el("code", {}, fmtText(run.run_id)),
      ", customers scored as of ",
      el("strong", {}, fmtText(run.as_of)),
      run.previous_as_of ? " (previous scoring date " + run.previous_as_of + ")" : " (no previous scoring date)",
      run.published_at ? ", published " + run.published_at : "",
      ". Money in " + fmtText(run.currency) + "; CLV over " + fmtText(run.clv_horizon) + "."
    );
    info.setAttribute("data-run-id", fmtText(run.run_id));
    info.setAttribute("data-as-of", fmtText(run.as_of));

    const body = byId("overview-body");
    const kpis = ov.kpis || {};
    const list = el("dl", { class: "kpis" });
    const keys = [...Object.keys(KPI_LABELS).filter((k) => k in kpis), ...Object.keys(kpis).filter((k) => !(k in KPI_LABELS))];
    for (const key of keys) {
      const [label, kind] = KPI_LABELS[key] || [humanise(key), "number"];
      const value = kpis[key];
      let text = kind === "money" ? fmtMoney(value) : kind === "count" ? fmtCount(value) : fmtNumber(value);
      const title = kind === "money" && state.currency ? label + ", " + state.currency : label;
      const note = key === "total_clv" && state.horizon ? el("dd", { class: "kpi-note" }, "over " + state.horizon) : null;
      list.appendChild(el("div", { class: "kpi", "data-kpi": key, "data-value": value === null ? "" : value }, el("dt", {}, title), el("dd", {}, text), note));
    }
    const parts = [el("h3", {}, "Key figures"), list,
      el("p", { class: "note" }, "A customer's value is their CLV plus their social value. Money in " + fmtText(state.currency) + "; CLV over " + fmtText(state.horizon) + ".")];

    const dist = ov.value_distribution;
    if (dist && Array.isArray(dist.counts) && Array.isArray(dist.edges) && dist.edges.length === dist.counts.length + 1) {
      const measure = (dist.measure === "value" ? "value (CLV + social value)" : humanise(dist.measure || "value")) + (state.currency ? ", " + state.currency : "");
      const { svg, rows } = histogram("value_distribution", "Distribution of customer value", dist.edges, dist.counts, measure, fmtCompact);
      const tbl = table("value_distribution", "Customers per value bin", [
        { title: "From", value: (r, i) => fmtMoney(dist.edges[i]), num: true },
        { title: "To", value: (r, i) => fmtMoney(dist.edges[i + 1]), num: true },
        { title: "Customers", value: (r) => fmtCount(r.value), num: true },
      ], rows);
      parts.push(el("h3", {}, "Value distribution"), chartBlock("Customers by value", svg, tbl, "Value distribution data"));
      if (dist.note) parts.push(el("p", { class: "note" }, "Bins: " + String(dist.note) + "."));
    }

    const segments = Array.isArray(ov.segments) ? ov.segments : [];
    if (segments.length) {
      const rows = segments
        .map((s) => ({ label: fmtText(s.segment), value: s.customers, data: s }))
        .sort((a, b) => (isNumber(b.value) ? b.value : 0) - (isNumber(a.value) ? a.value : 0) || a.label.localeCompare(b.label));
      const tbl = table("segments", "Customers and value per segment", [
        { title: "Segment", value: (r) => r.label, header: true },
        { title: "Customers", value: (r) => fmtCount(r.data.customers), num: true },
        { title: "Value", value: (r) => fmtMoney(r.data.value), num: true },
      ], rows);
      parts.push(el("h3", {}, "Segments"), chartBlock("Customers per segment", barChart("segments", "Customers per segment", rows, fmtCount), tbl, "Segments data"));
    }

    const stages = Array.isArray(ov.stages) ? ov.stages : [];
    if (stages.length) {
      const ordered = [...stages].sort((a, b) => stageRank(a.stage) - stageRank(b.stage) || String(a.stage).localeCompare(String(b.stage)));
      const rows = ordered.map((s) => ({ label: fmtText(s.stage), value: s.customers }));
      const tbl = table("stages", "Customers per lifecycle stage", [
        { title: "Stage", value: (r) => r.label, header: true },
        { title: "Customers", value: (r) => fmtCount(r.value), num: true },
      ], rows);
      parts.push(el("h3", {}, "Lifecycle stages"), chartBlock("Customers per lifecycle stage", barChart("stages", "Customers per lifecycle stage", rows, fmtCount), tbl, "Stages data"));
    }

    const champions = Array.isArray(ov.champions) ? ov.champions : [];
    parts.push(el("h3", {}, "Champion models"));
    if (champions.length) {
      parts.push(
        scrollTable(
          table("champions", "The model chosen for each role against its simple baseline", [
            { title: "Role", value: (c) => humanise(fmtText(c.role)), header: true },
            { title: "Champion", value: (c) => fmtText(c.champion) },
            { title: "Baseline", value: (c) => fmtText(c.baseline) },
            { title: "Margin", value: (c) => fmtNumber(c.margin, 4), num: true },
            { title: "Baseline won", value: (c) => yesNo(c.baseline_won) },
            { title: "In words", value: (c) => fmtText(c.sentence) },
          ], champions),
          "Champion models"
        )
      );
    } else {
      parts.push(el("p", { class: "muted" }, "This run records no champion models."));
    }
    body.replaceChildren(...parts);
  }

  /* ------------------------------------------------------------------ 2. Changes */

  function renderChanges(ch) {
    const body = byId("changes-body");
    if (!ch.previous_as_of) {
      body.replaceChildren(
        el("p", { "data-state": "no-previous" },
          "There is no previous run to compare with: " + fmtText(ch.as_of) +
          " is the only scoring date in the store. The changes appear after the next run.")
      );
      return;
    }
    const moved = ch.value_moved || {};
    const net = isNumber(moved.value_now) && isNumber(moved.value_before) ? moved.value_now - moved.value_before : null;
    const facts = el("dl", { class: "kpis" });
    for (const [key, label, kind] of [
      ["customers_compared", "Customers compared", "count"],
      ["value_before", "Value on " + ch.previous_as_of, "money"],
      ["value_now", "Value on " + fmtText(ch.as_of), "money"],
      ["gained", "Value gained", "money"],
      ["lost", "Value lost", "money"],
    ]) {
      const v = moved[key];
      facts.appendChild(el("div", { class: "kpi", "data-moved": key, "data-value": v === null || v === undefined ? "" : v },
        el("dt", {}, label), el("dd", {}, kind === "money" ? fmtMoney(v) : fmtCount(v))));
    }
    const parts = [
      el("p", {}, "From " + ch.previous_as_of + " to " + fmtText(ch.as_of) + "."),
      el("h3", {}, "Value moved"),
      facts,
      el("p", { class: "note" }, net === null ? "" : "Net change for the customers compared: " + (net >= 0 ? "+" : "") + fmtMoney(net) + "."),
    ];

    const transitions = Array.isArray(ch.transitions) ? ch.transitions : [];
    parts.push(el("h3", {}, "Stage transitions"));
    if (transitions.length) {
      const name = (s) => (s === null || s === undefined || s === "" ? "(none)" : String(s));
      const froms = sortStages([...new Set(transitions.map((t) => name(t.from)))]);
      const tos = sortStages([...new Set(transitions.map((t) => name(t.to)))]);
      const count = new Map(transitions.map((t) => [name(t.from) + "\u0000" + name(t.to), t.customers]));
      const matrix = el("table", { class: "matrix", "data-table": "transitions" },
        el("caption", {}, "Customers by stage on " + ch.previous_as_of + " (rows) and on " + fmtText(ch.as_of) + " (columns)"));
      const head = el("tr", {}, el("td", {}, "from \\ to"));
      for (const t of tos) head.appendChild(el("th", { scope: "col", class: "num" }, t));
      matrix.appendChild(el("thead", {}, head));
      const tbody = el("tbody");
      for (const f of froms) {
        const tr = el("tr", {}, el("th", { scope: "row" }, f));
        for (const t of tos) {
          const v = count.get(f + "\u0000" + t) || 0;
          tr.appendChild(el("td", { class: v ? "num" : "num zero", "data-from": f, "data-to": t, "data-value": v }, fmtCount(v)));
        }
        tbody.appendChild(tr);
      }
      matrix.appendChild(tbody);
      parts.push(scrollTable(matrix, "Stage transitions"));
    } else {
      parts.push(el("p", { class: "muted" }, "No customer was scored on both dates."));
    }

    const slipping = Array.isArray(ch.slipping) ? ch.slipping : [];
    parts.push(el("h3", {}, "Slipping customers"));
    if (slipping.length) {
      parts.push(
        scrollTable(
          table("slipping", "Customers whose value fell, the largest fall first", [
            { title: "Customer", value: (s) => customerButton(s.customer_id), id: true },
            { title: "Stage before", value: (s) => fmtText(s.stage_before) },
            { title: "Stage now", value: (s) => fmtText(s.stage_now) },
            { title: "Value before", value: (s) => fmtMoney(s.value_before), num: true },
            { title: "Value now", value: (s) => fmtMoney(s.value_now), num: true },
            { title: "Change", value: (s) => fmtMoney(s.value_change), num: true },
          ], slipping, (s) => ({ "data-customer-id": s.customer_id })),
          "Slipping customers"
        )
      );
    } else {
      parts.push(el("p", { class: "muted" }, "No customer slipped to a worse stage."));
    }
    body.replaceChildren(...parts);
  }

  /* ------------------------------------------------------------------ 3. Influencers */

  function renderInfluencers(data) {
    const body = byId("influencers-body");
    const items = Array.isArray(data.items) ? data.items : [];
    if (!items.length) {
      body.replaceChildren(el("p", { class: "muted" }, "This run has no influencers."));
      return;
    }
    const tbl = table("influencers", "The top " + items.length + " by influencer score", [
      { title: "Rank", value: (r, i) => String(i + 1), num: true },
      { title: "Customer", value: (r) => customerButton(r.customer_id), id: true },
      { title: "Influencer score", value: (r) => fmtNumber(r.influencer_score, 3), num: true },
      { title: "Social value", value: (r) => fmtMoney(r.social_value), num: true },
      { title: "Spread", value: (r) => fmtNumber(r.spread, 2), num: true },
      { title: "Followers", value: (r) => fmtCount(r.followers), num: true },
      { title: "Reach in 2 hops", value: (r) => fmtCount(r.reach_2hop), num: true },
      { title: "PageRank", value: (r) => fmtNumber(r.pagerank, 5), num: true },
    ], items, (r) => ({ "data-customer-id": r.customer_id }));
    body.replaceChildren(
      el("p", { class: "note" }, "Circles are the customers, larger for a higher influencer score; arrows go from a follower to the customer followed. Select an id in the table to look the customer up."),
      chartBlock("Who follows whom among the top " + items.length, networkChart(items, data.edges), tbl, "Top influencers", true)
    );
  }

  /* ------------------------------------------------------------------ 3b. Channels, cohorts and shares */

  const SHARE_TITLES = {
    content: ["Content published", "items"],
    helpfulness: ["Helpfulness votes received", "votes"],
    time: ["Time spent in interactions", "seconds"],
    wallet: ["Share of wallet", ""],
  };

  /** The one-line meaning of a part, or its reason when unavailable (null when the part is absent). */
  function meaningOf(key, part) {
    if (!part || typeof part !== "object") return el("p", { class: "muted", "data-meaning": key }, "Not recorded by this run.");
    if (!part.available) return el("p", { class: "muted", "data-reason": key }, fmtText(part.reason));
    return el("p", { class: "meaning", "data-meaning": key }, el("strong", {}, "What this means: "), fmtText(part.meaning));
  }

  function notesOf(part) {
    const notes = part && Array.isArray(part.notes) ? part.notes : [];
    return notes.length ? el("p", { class: "note" }, "Notes: " + notes.map(String).join("; ") + ".") : null;
  }

  function renderChannels(part, parts) {
    parts.push(el("h3", {}, "Acquisition channels"), meaningOf("channels", part));
    if (!part || !part.available) return;
    const rows = Array.isArray(part.table) ? part.table : [];
    const currency = part.currency || state.currency;
    const days = part.repeat_window_days || 90;
    const interval = (r, k) => fmtPercent(r[k]) + " (" + fmtPercent(r[k + "_lower"]) + "–" + fmtPercent(r[k + "_upper"]) + ")";
    const tbl = table("channels", "Per acquisition channel (" + Math.round((part.level || 0.95) * 100) + "% intervals)", [
      { title: "Channel", value: (r) => fmtText(r.channel), header: true },
      { title: "Customers acquired", value: (r) => fmtCount(r.customers), num: true },
      { title: "Conversion to a first purchase", value: (r) => interval(r, "conversion"), num: true },
      { title: "Repeat within " + days + " days", value: (r) => interval(r, "repeat_rate"), num: true },
      { title: "Median days to the second purchase", value: (r) => fmtNumber(r.median_days_to_second, 0), num: true },
      { title: "Share who referred someone", value: (r) => interval(r, "referrer_share"), num: true },
      { title: "Value per customer acquired", value: (r) => fmtMoney(r.value_per_customer, currency), num: true },
      { title: "Cost per acquisition", value: (r) => fmtMoney(r.cost_per_acquisition, currency), num: true },
    ], rows, (r) => ({ "data-channel": r.channel }));
    const repeat = barChart(
      "channel_repeat",
      "Share of buyers repeating within " + days + " days, by channel",
      rows.map((r) => ({ label: String(r.channel), value: r.repeat_rate })),
      fmtPercent
    );
    parts.push(chartBlock("Repeat within " + days + " days", repeat, tbl, "Acquisition channels", true));
    const value = barChart(
      "channel_value",
      "Social value per customer acquired, by channel (" + fmtText(currency) + ", " + fmtText(part.horizon) + ")",
      rows.map((r) => ({ label: String(r.channel), value: r.value_per_customer })),
      (v) => fmtMoney(v, currency)
    );
    const valueTable = table("channel_value", "Value per customer acquired (" + fmtText(part.horizon) + ")", [
      { title: "Channel", value: (r) => fmtText(r.channel), header: true },
      { title: "Mean CLV", value: (r) => fmtMoney(r.mean_clv, currency), num: true },
      { title: "Mean social value", value: (r) => fmtMoney(r.mean_csv, currency), num: true },
      { title: "Value per customer acquired", value: (r) => fmtMoney(r.value_per_customer, currency), num: true },
      { title: "Value per unit cost", value: (r) => fmtNumber(r.value_per_cost, 1), num: true },
    ], rows);
    parts.push(chartBlock("Value per customer acquired", value, valueTable, "Value by acquisition channel", true));
    const notes = notesOf(part);
    if (notes) parts.push(notes);
  }

  /** Cohort rows pooled by period since sign-up over the cohorts that completed the period. */
  function pooledCohorts(rows) {
    const by = new Map();
    for (const r of rows) {
      if (!r.complete) continue;
      const p = by.get(r.period) || { period: r.period, members: 0, active: 0, revenue: 0, repeat: 0, expected: 0, hasModel: false };
      p.members += r.members || 0;
      p.active += r.active || 0;
      p.revenue += r.revenue || 0;
      p.repeat += r.repeat_days || 0;
      if (isNumber(r.expected_repeat_per_member)) {
        p.expected += r.expected_repeat_per_member * (r.members || 0);
        p.hasModel = true;
      }
      by.set(r.period, p);
    }
    const out = [...by.values()].sort((a, b) => a.period - b.period);
    let actual = 0;
    let expected = 0;
    for (const p of out) {
      actual += p.members ? p.repeat / p.members : 0;
      expected += p.members ? p.expected / p.members : 0;
      p.share = p.members ? p.active / p.members : null;
      p.revenuePerMember = p.members ? p.revenue / p.members : null;
      p.cumActual = actual;
      p.cumExpected = p.hasModel ? expected : null;
    }
    return out;
  }

  function renderCohorts(part, mix, parts) {
    parts.push(el("h3", {}, "Signup cohorts"), meaningOf("cohorts", part));
    if (part && part.available) {
      const word = part.period === "week" ? "week" : "month";
      const currency = part.currency || state.currency;
      const pooled = pooledCohorts(Array.isArray(part.table) ? part.table : []);
      const chart = barChart(
        "cohort_retention",
        "Share of cohort members buying in each " + word + " since sign-up (pooled over the cohorts that completed it)",
        pooled.map((p) => ({ label: word + " " + p.period, value: p.share })),
        fmtPercent
      );
      const model = part.model || "purchase model";
      const tbl = table("cohorts", "Per " + word + " since sign-up, pooled over the cohorts that completed it", [
        { title: word.charAt(0).toUpperCase() + word.slice(1) + "s since sign-up", value: (p) => String(p.period), header: true },
        { title: "Members", value: (p) => fmtCount(p.members), num: true },
        { title: "Share active", value: (p) => fmtPercent(p.share), num: true },
        { title: "Revenue per member", value: (p) => fmtMoney(p.revenuePerMember, currency), num: true },
        { title: "Repeat purchases per member, cumulative", value: (p) => fmtNumber(p.cumActual, 2), num: true },
        { title: "Expected by the " + model + ", cumulative", value: (p) => fmtNumber(p.cumExpected, 2), num: true },
      ], pooled);
      parts.push(chartBlock("Retention by " + word + " since sign-up", chart, tbl, "Signup cohorts", true));
      const notes = notesOf(part);
      if (notes) parts.push(notes);
    }
    parts.push(el("h3", {}, "Lifecycle mix of the cohorts"), meaningOf("lifecycle_mix", mix));
  }

  function renderShares(shares, parts) {
    parts.push(el("h3", {}, "Shares"));
    if (!shares || typeof shares !== "object") {
      parts.push(el("p", { class: "muted" }, "Not recorded by this run."));
      return;
    }
    const column = humanise(shares.segment_column || "segment").toLowerCase();
    for (const [key, [title, unit]] of Object.entries(SHARE_TITLES)) {
      const part = shares[key];
      parts.push(el("h4", {}, title), meaningOf("share_" + key, part));
      if (!part || !part.available) continue;
      const segs = Array.isArray(part.by_segment) ? part.by_segment : [];
      if (segs.length) {
        const chart = barChart(
          "share_" + key,
          title + ": share held by each " + column,
          segs.map((s) => ({ label: String(s.segment), value: s.share })),
          fmtPercent
        );
        const tbl = table("share_" + key, title + " by " + column, [
          { title: humanise(shares.segment_column || "segment"), value: (s) => fmtText(s.segment), header: true },
          { title: key === "wallet" ? "Share of wallet" : "Share of " + unit, value: (s) => fmtPercent(s.share), num: true },
          { title: "Share of customers", value: (s) => fmtPercent(s.member_share), num: true },
        ], segs);
        parts.push(chartBlock(title + " by " + column, chart, tbl, title + " by " + column, true));
      }
      const notes = notesOf(part);
      if (notes) parts.push(notes);
    }
  }

  function renderInsight(data) {
    const body = byId("insight-body");
    if (!data || data.available === false) {
      body.replaceChildren(el("p", { class: "muted", "data-reason": "insight" }, fmtText(data && data.reason)));
      return;
    }
    const parts = [];
    renderChannels(data.channels, parts);
    renderCohorts(data.cohorts, data.lifecycle_mix, parts);
    renderShares(data.shares, parts);
    body.replaceChildren(...parts);
  }

  /* ------------------------------------------------------------------ 4. Customer lookup */

  async function lookup(id) {
    const result = byId("lookup-result");
    const generation = state.generation;
    if (!state.key) {
      result.replaceChildren(el("p", { role: "alert", class: "problem-inline" }, "Give an API key first."));
      return;
    }
    if (id === "." || id === "..") {
      result.setAttribute("data-state", "error");
      result.replaceChildren(el("p", { role: "alert", class: "problem-inline" }, "“" + id + "” cannot be sent as a customer id in a URL path, so it cannot be looked up."));
      return;
    }
    result.setAttribute("data-state", "loading");
    result.replaceChildren(el("p", { class: "muted" }, "Looking up…"));
    try {
      const c = await api("customers/" + encodeURIComponent(id));
      if (generation !== state.generation) return;
      renderCustomer(c);
      result.setAttribute("data-state", "done");
    } catch (err) {
      if (generation !== state.generation) return;
      result.setAttribute("data-state", "error");
      const box = el("div", { role: "alert", class: "alerts", "data-status": err instanceof ApiError ? err.status : "" });
      if (err instanceof ApiError && err.status === 404) {
        box.appendChild(el("p", { class: "problem-title" }, "No customer with the id “" + id + "” in the last published run."));
        if (err.problem.detail) box.appendChild(el("p", { class: "problem-detail" }, String(err.problem.detail)));
      } else {
        append(box, problemNodes(err, "Customer lookup"));
      }
      result.replaceChildren(box);
    }
  }

  function renderCustomer(c) {
    const result = byId("lookup-result");
    const currency = c.currency || state.currency;
    const money = (v) => fmtMoney(v, currency);
    const value = c.value || {};
    const churn = c.churn || {};
    const action = c.action || {};
    const parts = [
      el("h3", {}, "Customer ", el("code", { "data-field": "customer_id" }, fmtText(c.customer_id)), " as of " + fmtText(c.as_of)),
    ];
    const facts = el("dl", { class: "facts" });
    const fact = (label, text, field, raw) => {
      facts.appendChild(el("dt", {}, label));
      facts.appendChild(el("dd", { "data-field": field, "data-value": raw === undefined ? null : raw === null ? "" : raw }, text));
    };
    fact("Total value", money(value.total), "value", value.total);
    fact("CLV", money(value.clv), "clv", value.clv);
    fact("Social value", money(value.social_value), "social_value", value.social_value);
    fact("Segment", fmtText(c.segment), "segment", c.segment);
    fact("Lifecycle stage", fmtText(c.lifecycle_stage), "lifecycle_stage", c.lifecycle_stage);
    fact("Tier", fmtText(c.tier), "tier", c.tier);
    fact("Cluster", fmtText(c.cluster_name), "cluster_name", c.cluster_name);
    fact("RFM segment", fmtText(c.rfm_segment), "rfm_segment", c.rfm_segment);

    const actionBox = el("div", { class: "action-box" },
      el("h4", {}, "Next action"),
      el("p", {},
        el("strong", { "data-field": "action", "data-value": fmtText(action.action) }, fmtText(action.label || action.action)),
        " (", el("code", {}, fmtText(action.action)), "). Channel: " + fmtText(action.channel) + "."),
      el("p", {}, "Why: ", el("span", { "data-field": "action_reason" }, fmtText(action.reason))),
      el("p", {}, "Cost " + money(action.cost) + ", expected value " + money(action.expected_value) + ", net " + money(action.net_value) + ".")
    );
    const reasons = Array.isArray(churn.reasons) ? churn.reasons.filter((r) => r !== null && r !== "") : [];
    const churnBox = el("div", { class: "churn-box" },
      el("h4", {}, "Churn risk"),
      el("p", {},
        el("strong", { "data-field": "churn_risk", "data-value": churn.risk === null || churn.risk === undefined ? "" : churn.risk }, fmtPercent(churn.risk)),
        " chance of churning. Alert: ",
        el("span", { class: churn.alert ? "badge alert-yes" : "badge", "data-field": "churn_alert" }, yesNo(churn.alert)),
        churn.source ? " (from the " + churn.source + ")" : ""),
      reasons.length
        ? el("ul", { "data-field": "churn_reasons" }, reasons.map((r) => el("li", {}, String(r))))
        : el("p", { class: "muted" }, "No churn reason recorded.")
    );
    if (state.horizon) parts.push(facts, el("p", { class: "note" }, "CLV over " + state.horizon + "."));
    else parts.push(facts);
    parts.push(el("div", { class: "columns" }, actionBox, churnBox));

    const components = Array.isArray(value.components) ? value.components : [];
    if (components.length) {
      const rows = components.map((k) => ({ label: humanise(fmtText(k.name)), value: k.value, name: k.name }));
      const tbl = table("value_components", "Value components", [
        { title: "Component", value: (r) => r.label, header: true },
        { title: "Value", value: (r) => money(r.value), num: true },
      ], rows);
      parts.push(el("h4", {}, "Value decomposition"),
        chartBlock("Components of this customer's value", barChart("value_components", "Value components of customer " + fmtText(c.customer_id), rows, money), tbl, "Value components data"));
    }
    const top = Array.isArray(value.top_contributors) ? value.top_contributors : [];
    if (top.length) {
      parts.push(el("p", {}, "Largest contributors: "),
        el("ol", { "data-field": "top_contributors" }, top.map((t) => el("li", {}, humanise(fmtText(t.name)) + ": " + money(t.value)))));
    }
    const history = Array.isArray(c.history) ? c.history : [];
    parts.push(el("h4", {}, "History"));
    if (history.length) {
      parts.push(scrollTable(table("history", "This customer at each scoring date", [
        { title: "As of", value: (h) => fmtText(h.as_of), header: true },
        { title: "Value", value: (h) => money(h.value), num: true },
        { title: "CLV", value: (h) => money(h.clv), num: true },
        { title: "Social value", value: (h) => money(h.social_value), num: true },
        { title: "Segment", value: (h) => fmtText(h.segment) },
        { title: "Stage", value: (h) => fmtText(h.lifecycle_stage) },
        { title: "Churn risk", value: (h) => fmtPercent(h.churn_risk), num: true },
        { title: "Action", value: (h) => fmtText(h.action) },
      ], history), "Customer history"));
    } else {
      parts.push(el("p", { class: "muted" }, "No history."));
    }
    result.replaceChildren(...parts);
  }

  /* ------------------------------------------------------------------ 5. Segment filter and audience */

  function fillSelect(select, anyText, options) {
    const current = select.value;
    select.replaceChildren(el("option", { value: "" }, anyText));
    for (const [value, text] of options) select.appendChild(el("option", { value }, text));
    if (options.some(([v]) => v === current)) select.value = current;
  }

  function renderOptions(segments, actions) {
    // a missing segment, stage or action cannot be asked for by name, so it is no option
    const named = (list, key) => (Array.isArray(list) ? list : []).filter((x) => x && x[key] !== null && x[key] !== undefined && x[key] !== "");
    fillSelect(byId("filter-segment"), "Any segment",
      named(segments.segments, "segment").map((s) => [String(s.segment), String(s.segment) + " (" + fmtCount(s.customers) + ")"]));
    const stages = sortStages(named(segments.stages, "stage").map((s) => String(s.stage)));
    const perStage = new Map((segments.stages || []).map((s) => [String(s.stage), s.customers]));
    fillSelect(byId("filter-stage"), "Any stage", stages.map((s) => [s, s + " (" + fmtCount(perStage.get(s)) + ")"]));
    const list = Array.isArray(actions.actions) ? actions.actions : [];
    fillSelect(byId("filter-action"), "Any action",
      named(list, "action").map((a) => [String(a.action), fmtText(a.label || a.action) + " (" + fmtCount(a.customers) + ")"]));
    const summary = byId("actions-summary") || el("div", { id: "actions-summary" });
    summary.replaceChildren(
      el("h3", {}, "Actions planned"),
      scrollTable(table("actions", "Customers, cost and value per action", [
        { title: "Action", value: (a) => fmtText(a.label || a.action), header: true },
        { title: "Name", value: (a) => el("code", {}, fmtText(a.action)) },
        { title: "Customers", value: (a) => fmtCount(a.customers), num: true },
        { title: "Cost", value: (a) => fmtMoney(a.cost), num: true },
        { title: "Expected value", value: (a) => fmtMoney(a.expected_value), num: true },
        { title: "Net value", value: (a) => fmtMoney(a.net_value), num: true },
      ], list), "Actions planned")
    );
    if (!summary.parentNode) byId("filter-result").before(summary);
  }

  function filterParams() {
    return {
      segment: byId("filter-segment").value,
      stage: byId("filter-stage").value,
      action: byId("filter-action").value,
    };
  }

  function describeFilter(params) {
    const parts = [];
    if (params.segment) parts.push("segment “" + params.segment + "”");
    if (params.stage) parts.push("stage “" + params.stage + "”");
    if (params.action) parts.push("action “" + params.action + "”");
    return parts.length ? "Customers in " + parts.join(", ") : "All customers";
  }

  async function loadPage(page) {
    const result = byId("filter-result");
    const f = state.filter;
    const generation = state.generation;
    result.setAttribute("data-state", "loading");
    try {
      const data = await api("customers", { ...f.params, limit: PAGE_SIZE, cursor: f.cursors[page] });
      if (generation !== state.generation) return;
      f.page = page;
      f.cursors = f.cursors.slice(0, page + 1);
      if (data.next_cursor) f.cursors.push(data.next_cursor);
      renderPage(data);
      result.setAttribute("data-state", "done");
    } catch (err) {
      if (generation !== state.generation) return;
      result.setAttribute("data-state", "error");
      if (err instanceof ApiError && err.status === 410 && page > 0) {
        showProblem(err, "The listing's run was replaced; it starts again from the first page");
        state.filter.cursors = [null];
        await loadPage(0);
        return;
      }
      showProblem(err, "Customer list");
    }
  }

  function renderPage(data) {
    const f = state.filter;
    const result = byId("filter-result");
    const items = Array.isArray(data.items) ? data.items : [];
    const hasNext = f.cursors.length > f.page + 1;
    const prev = el("button", { type: "button", class: "secondary", id: "page-prev", disabled: f.page === 0 }, "Previous page");
    const next = el("button", { type: "button", class: "secondary", id: "page-next", disabled: !hasNext }, "Next page");
    prev.addEventListener("click", () => loadPage(f.page - 1));
    next.addEventListener("click", () => loadPage(f.page + 1));
    const heading = describeFilter(f.params) + ", page " + (f.page + 1) + " (as of " + fmtText(data.as_of) + ", by value, highest first)";
    result.replaceChildren(
      el("h3", { "data-page": f.page + 1 }, heading),
      items.length
        ? scrollTable(table("customers", null, [
            { title: "Customer", value: (r) => customerButton(r.customer_id), id: true },
            { title: "Value", value: (r) => fmtMoney(r.value), num: true },
            { title: "CLV", value: (r) => fmtMoney(r.clv), num: true },
            { title: "Social value", value: (r) => fmtMoney(r.social_value), num: true },
            { title: "Segment", value: (r) => fmtText(r.segment) },
            { title: "Stage", value: (r) => fmtText(r.lifecycle_stage) },
            { title: "Tier", value: (r) => fmtText(r.tier) },
            { title: "Churn risk", value: (r) => fmtPercent(r.churn_risk), num: true },
            { title: "Action", value: (r) => fmtText(r.action) },
          ], items, (r) => ({ "data-customer-id": r.customer_id, "data-segment": r.segment, "data-stage": r.lifecycle_stage, "data-action": r.action })),
          "Customers found")
        : el("p", { class: "muted" }, "No customer matches."),
      el("div", { class: "pager" }, prev, next, el("span", { class: "muted" }, items.length + " customers on this page" + (hasNext ? "; more on the next page." : ".")))
    );
  }

  function safeFileName(text) {
    return String(text).replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 60) || "all";
  }

  async function downloadAudience() {
    const status = byId("download-state");
    if (!state.key) {
      status.textContent = "Give an API key first.";
      return;
    }
    const action = byId("filter-action").value;
    status.textContent = "Preparing the audience…";
    try {
      const blob = await api("actions", { format: "csv", action }, "blob");
      const url = URL.createObjectURL(blob);
      const link = el("a", { href: url, download: "audience-" + safeFileName(action || "all") + ".csv", class: "sr-only" }, "download");
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      status.textContent = "Downloaded the audience " + (action ? "of “" + action + "”" : "of every action") + " (" + fmtCount(blob.size) + " bytes).";
    } catch (err) {
      status.textContent = "The download failed; see the message above.";
      showProblem(err, "Audience download");
    }
  }

  /* ------------------------------------------------------------------ 6. Did the actions pay? */

  const NOT_MEASURED = "not yet measured";

  function verdictClass(verdict) {
    return verdict === "paid" ? "verdict-paid" : verdict === "harmful" ? "verdict-harmful" : verdict === NOT_MEASURED ? "verdict-waiting" : "verdict-none";
  }

  /**
   * Forest plot: per action, its value uplift per customer contacted (point) with its interval (line) and its
   * cost (a vertical mark); the verdict is written at the right, "not yet measured" on the row when so.
   */
  function forestChart(rows, currency, level) {
    const width = 640;
    const rowHeight = 34;
    const top = 10;
    const bottom = 34;
    const labelChars = Math.min(24, Math.max(6, ...rows.map((r) => String(r.label).length)));
    const left = 12 + labelChars * 7;
    const right = 130;
    const height = top + bottom + Math.max(1, rows.length) * rowHeight;
    const values = [0];
    for (const r of rows) {
      for (const v of [r.lower, r.upper, r.uplift, r.cost]) if (isNumber(v)) values.push(v);
    }
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    const pad = (hi - lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
    const plot = width - left - right;
    const x = (v) => left + ((v - lo) / (hi - lo)) * plot;
    const money = (v) => fmtMoney(v, currency);
    const description = rows
      .map((r) => r.verdict === NOT_MEASURED
        ? r.label + ": not yet measured, cost " + money(r.cost)
        : r.label + ": " + money(r.uplift) + " (" + level + " interval " + money(r.lower) + " to " + money(r.upper) + ") against a cost of " + money(r.cost) + ", " + r.verdict)
      .join("; ") + ".";
    const svg = chartFrame("action_results", "Value uplift per customer contacted, with its " + level + " interval, against cost", description, width, height);
    const base = top + rows.length * rowHeight;
    const axis = svgEl("g", { class: "axis" });
    axis.appendChild(svgEl("line", { x1: left, x2: left + plot, y1: base, y2: base }));
    for (const t of [lo + pad, 0, hi - pad]) {
      if (t !== 0 && Math.abs(x(t) - x(0)) < 40) continue;
      axis.appendChild(svgEl("line", { x1: x(t), x2: x(t), y1: base, y2: base + 4 }));
      axis.appendChild(svgEl("text", { x: x(t), y: base + 17, "text-anchor": "middle" }, fmtNumber(t, 2)));
    }
    axis.appendChild(svgEl("text", { x: left + plot / 2, y: base + 31, "text-anchor": "middle" }, "value per customer contacted" + (currency ? " (" + currency + ")" : "")));
    svg.appendChild(axis);
    svg.appendChild(svgEl("line", { class: "zero", x1: x(0), x2: x(0), y1: top, y2: base }));
    rows.forEach((r, i) => {
      const y = top + i * rowHeight + rowHeight / 2;
      const cls = r.verdict === "paid" ? "paid" : r.verdict === "harmful" ? "harmful" : "";
      const g = svgEl("g", { "data-row": i, "data-action": r.action, "data-verdict": r.verdict });
      g.appendChild(svgEl("title", {}, r.verdict === NOT_MEASURED ? r.label + ": not yet measured" : r.label + ": " + money(r.uplift) + " (" + money(r.lower) + " to " + money(r.upper) + "), cost " + money(r.cost)));
      g.appendChild(svgEl("text", { x: left - 8, y: y + 4, "text-anchor": "end" }, shorten(r.label, 24)));
      if (r.verdict !== NOT_MEASURED && isNumber(r.lower) && isNumber(r.upper) && isNumber(r.uplift)) {
        g.appendChild(svgEl("line", { class: ("ci " + cls).trim(), "data-interval": "", x1: x(r.lower), x2: x(r.upper), y1: y, y2: y }));
        g.appendChild(svgEl("circle", { class: ("point " + cls).trim(), "data-point": r.uplift, cx: x(r.uplift), cy: y, r: 5 }));
      } else {
        g.appendChild(svgEl("text", { x: x(0) + 6, y: y + 4, "text-anchor": "start", class: "verdict-waiting" }, NOT_MEASURED));
      }
      if (isNumber(r.cost)) g.appendChild(svgEl("line", { class: "cost", "data-cost": r.cost, x1: x(r.cost), x2: x(r.cost), y1: y - 10, y2: y + 10 }));
      g.appendChild(svgEl("text", { x: left + plot + 8, y: y + 4, "text-anchor": "start", class: verdictClass(r.verdict) }, r.verdict));
      svg.appendChild(g);
    });
    return svg;
  }

  function renderExperiments(data) {
    const body = byId("experiments-body");
    if (!data.available) {
      body.setAttribute("data-state", "unavailable");
      body.replaceChildren(el("p", { "data-state": "unavailable" }, "Whether the actions paid is not known yet: " + fmtText(data.reason).replace(/\.$/, "") + "."));
      return;
    }
    body.setAttribute("data-state", "available");
    const currency = data.currency || state.currency;
    const money = (v) => fmtMoney(v, currency);
    const level = isNumber(data.confidence) ? Math.round(data.confidence * 1000) / 10 + "%" : "95%";
    const labels = data.labels && typeof data.labels === "object" ? data.labels : {};
    const verdicts = Array.isArray(data.verdicts) ? data.verdicts : [];
    const label = (a) => fmtText(labels[a] || a);
    const all = verdicts.filter((v) => v.segment === "(all)").map((v) => ({ ...v, label: label(v.action) }));
    const segments = verdicts.filter((v) => v.segment !== "(all)");
    const measured = (v) => v.verdict !== NOT_MEASURED;
    const parts = [
      el("p", { class: "note" },
        "Measured on " + fmtText(data.measured_at || data.as_of) + " against control groups held out at random: outcomes in the " +
        fmtCount(data.window_days) + " days after each action, in " + fmtText(currency) + ". An action paid when its whole " + level +
        " interval lies above its cost per customer contacted; it is not yet measured until each arm has " + fmtCount(data.min_outcomes) +
        " customers whose window has elapsed."),
    ];
    if (!all.length) {
      parts.push(el("p", { class: "muted" }, "No action had a control group to measure."));
      body.replaceChildren(...parts);
      return;
    }
    const columns = [
      { title: "Action", value: (v) => label(v.action), header: true },
      { title: "Verdict", value: (v) => el("span", { class: "verdict " + verdictClass(v.verdict), "data-field": "verdict" }, fmtText(v.verdict)) },
      { title: "Treated", value: (v) => fmtCount(v.n_treated), num: true },
      { title: "Held out", value: (v) => fmtCount(v.n_control), num: true },
      { title: "Value uplift", value: (v) => (measured(v) ? money(v.uplift) : NOT_MEASURED), num: true },
      { title: level + " interval", value: (v) => (measured(v) ? money(v.lower) + " to " + money(v.upper) : NOT_MEASURED), num: true },
      { title: "Cost", value: (v) => money(v.cost), num: true },
      { title: "Net of cost", value: (v) => (measured(v) ? money(v.net) : "–"), num: true },
    ];
    const rowAttrs = (v) => ({ "data-action": v.action, "data-segment": v.segment, "data-verdict": v.verdict });
    const tbl = table("action_results", "Whether each action paid, per customer contacted", columns, all, rowAttrs);
    parts.push(chartBlock("Value uplift per customer contacted against cost", forestChart(all, currency, level), tbl, "Action results data", true));
    const sentences = all.map((v) => el("li", { "data-action": v.action }, label(v.action) + ": " + (measured(v)
      ? v.verdict + " (" + money(v.uplift) + ", " + level + " interval " + money(v.lower) + " to " + money(v.upper) + ", cost " + money(v.cost) + ")"
      : NOT_MEASURED + " (" + fmtCount(v.n_treated) + " treated and " + fmtCount(v.n_control) + " held-out customers with outcomes so far)")));
    parts.push(el("ul", { class: "verdicts" }, sentences));
    const replaced = Array.isArray(data.replaced) ? data.replaced : [];
    if (replaced.length) {
      parts.push(el("p", { class: "note" }, "The measured values replaced the playbook's assumed uplift of " + replaced.map(label).join(", ") + " in this run's allocation."));
    }
    if (segments.length) {
      const segColumns = [columns[0], { title: "Segment", value: (v) => fmtText(v.segment) }, ...columns.slice(1)];
      parts.push(el("h3", {}, "Per action and segment"),
        scrollTable(table("action_segments", "Whether each action paid in each segment", segColumns, segments, rowAttrs), "Action results per segment"));
    }
    body.replaceChildren(...parts);
  }

  /* ------------------------------------------------------------------ loading */

  async function loadAll() {
    const generation = ++state.generation;
    clearProblems();
    document.body.setAttribute("data-state", "loading");
    const guard = (fn) => (data) => {
      if (generation === state.generation) fn(data);
    };
    const fail = (context) => (err) => {
      if (generation === state.generation) showProblem(err, context);
    };
    await Promise.allSettled([
      api("overview").then(guard(renderOverview)).catch(fail("Overview")),
      api("changes").then(guard(renderChanges)).catch(fail("Changes")),
      api("influencers", { k: TOP_K }).then(guard(renderInfluencers)).catch(fail("Influencers")),
      api("insight").then(guard(renderInsight)).catch(fail("Channels, cohorts and shares")),
      Promise.all([api("segments"), api("actions")]).then(guard((pair) => renderOptions(pair[0], pair[1]))).catch(fail("Segments and actions")),
      api("experiments").then(guard(renderExperiments)).catch(fail("Action results")),
    ]);
    if (generation === state.generation) document.body.setAttribute("data-state", "ready");
  }

  function placeholders() {
    byId("overview-body").replaceChildren(el("p", { class: "muted" }, "Give an API key to load the overview."));
    byId("changes-body").replaceChildren(el("p", { class: "muted" }, "Give an API key to load the changes."));
    byId("influencers-body").replaceChildren(el("p", { class: "muted" }, "Give an API key to load the influencers."));
    byId("experiments-body").replaceChildren(el("p", { class: "muted" }, "Give an API key to load the action results."));
    byId("experiments-body").removeAttribute("data-state");
    byId("insight-body").replaceChildren(el("p", { class: "muted" }, "Give an API key to load the channels, cohorts and shares."));
    byId("lookup-result").replaceChildren();
    byId("filter-result").replaceChildren();
    const summary = byId("actions-summary");
    if (summary) summary.remove();
    byId("run-info").replaceChildren();
  }

  function useKey(key) {
    state.key = key;
    try {
      sessionStorage.setItem(KEY_STORAGE, key);
    } catch (err) {
      // storage refused (private mode): the key lives in this page only
    }
    byId("key-state").textContent = "A key is in use for this tab (kept in session storage until the tab closes).";
    state.filter = { params: {}, cursors: [null], page: 0 };
    placeholders();
    return loadAll();
  }

  function forgetKey() {
    state.key = null;
    state.generation++;
    try {
      sessionStorage.removeItem(KEY_STORAGE);
    } catch (err) {
      // nothing stored
    }
    clearProblems();
    placeholders();
    byId("api-key").value = "";
    byId("key-state").textContent = "The key is forgotten. Give a key to load the dashboard.";
    document.body.setAttribute("data-state", "no-key");
  }

  function init() {
    byId("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = byId("api-key");
      const key = input.value.trim();
      input.value = "";
      if (!/^[\x21-\x7e]+$/.test(key)) {
        clearProblems();
        showProblem(new ApiError(0, { title: "Not an API key", detail: "An API key is printable ASCII without spaces, as `socialvalue keys create` printed it." }), "API key");
        return;
      }
      useKey(key);
    });
    byId("key-forget").addEventListener("click", forgetKey);
    byId("lookup-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = byId("lookup-id").value.trim();
      if (id) lookup(id);
    });
    byId("filter-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (!state.key) {
        showProblem(new ApiError(0, { title: "No API key", detail: "Give an API key first." }), "Customer list");
        return;
      }
      state.filter = { params: filterParams(), cursors: [null], page: 0 };
      loadPage(0);
    });
    byId("audience-download").addEventListener("click", downloadAudience);

    let stored = null;
    try {
      stored = sessionStorage.getItem(KEY_STORAGE);
    } catch (err) {
      stored = null;
    }
    if (stored) {
      useKey(stored);
    } else {
      document.body.setAttribute("data-state", "no-key");
    }
  }

  init();
})();
