// The screens: projects, a project's runs table, a run, and a compare of runs. Each builds
// DOM nodes and fills them from the API; stored text goes in through textContent only.

import { enc, getJSON, getText, num, runPath } from "./api.js";
import { COLORS, chartFigure } from "./charts.js";

const PAGE = 50;
const BUCKETS = 300;
const CHART_KEYS = 64; // metric names per chart request
const CONSOLE_BYTES = 256 * 1024;

export function h(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

export function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
  if (Array.isArray(v)) return v.map(fmt).join(",");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

// a time past what a Date holds (a run.json's created_at in ms or µs) is shown as its number:
// toISOString() throws on it, which stopped the whole page
function fmtTime(t) {
  if (typeof t !== "number") return "";
  const d = new Date(t * 1000);
  return isNaN(d.getTime()) ? fmt(t) : d.toISOString().slice(0, 16).replace("T", " ");
}

// terminal colours and cursor moves in a console log: dropped, as a terminal would not show
// them; a line rewritten with \r (progress bars) shows its last state
const ANSI = /\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]/g;
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

export function consoleText(text) {
  return text.replace(ANSI, "").replace(CONTROL, "").split("\n")
    .map((line) => line.split("\r").filter(Boolean).pop() ?? "").join("\n");
}

const isMetric = (k, v) => !k.startsWith("_") && (typeof v === "number" || v === "NaN" ||
  v === "Infinity" || v === "-Infinity");

export const runHash = (e, p, id) => "#/r/" + enc(e) + "/" + enc(p) + "/" + enc(id);
export const projectHash = (e, p, q) =>
  "#/p/" + enc(e) + "/" + enc(p) + (q && q.toString() ? "?" + q.toString() : "");

// -- projects ------------------------------------------------------------------------------
export async function projectsView(main) {
  const list = h("ul", { class: "projects" });
  const open = h("input", { type: "text", placeholder: "entity/project", id: "open-project" });
  const go = () => {
    const [e, ...p] = open.value.trim().split("/");
    if (e && p.length) location.hash = projectHash(e, p.join("/"));
  };
  main.replaceChildren(
    h("h2", { text: "Projects" }), list,
    h("div", { class: "bar" }, open, h("button", { type: "button", text: "Open", onclick: go })),
  );
  open.addEventListener("keydown", (ev) => { if (ev.key === "Enter") go(); });
  let projects = [];
  try {
    const doc = await getJSON("/api/v1/projects");
    projects = Array.isArray(doc) ? doc : doc.projects || [];
  } catch (e) {
    if (e.status !== 404) throw e;
    list.append(h("li", { class: "muted", text: "this server lists no projects: open one by name" }));
  }
  for (const p of projects) {
    const entity = String(p.entity), name = String(p.project ?? p.name);
    const item = h("li", {}, h("a", { href: projectHash(entity, name), text: entity + "/" + name }));
    const about = [typeof p.runs === "number" ? p.runs + " runs" : "", p.visibility || ""];
    item.append(h("span", { class: "muted", text: "  " + about.filter(Boolean).join(" · ") }));
    list.append(item);
  }
  if (!projects.length && !list.children.length) {
    list.append(h("li", { class: "muted", text: "no projects you may read yet" }));
  }
}

// -- runs table ----------------------------------------------------------------------------
export async function runsView(main, entity, project, query) {
  const filter = query.get("filter") || "";
  const sort = query.get("sort") || "";
  const offset = Math.max(0, parseInt(query.get("offset") || "0", 10) || 0);
  const input = h("input", { type: "search", id: "filter", value: filter,
    placeholder: "filter, e.g. summary.loss < 0.3 and config.lr >= 1e-3, state:running, tag:x" });
  const problem = h("div", { class: "error", id: "filter-error" });
  const compare = h("button", { type: "button", id: "compare", text: "Compare selected",
    disabled: true });
  const table = h("table", { id: "runs" });
  const pager = h("div", { class: "bar" });
  main.replaceChildren(
    h("div", { class: "bar" }, input, compare), problem, table, pager);
  const nav = (changes) => {
    const q = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) v ? q.set(k, v) : q.delete(k);
    location.hash = projectHash(entity, project, q);
  };
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") nav({ filter: input.value.trim(), offset: "" });
  });
  let doc;
  try {
    doc = await getJSON(runPath(entity, project), { filter, sort, offset, limit: PAGE });
  } catch (e) {
    if (e.status === 400 && filter) { problem.textContent = e.message; return; }
    throw e;
  }
  const runs = doc.runs || [];
  const metricKeys = [];
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.summary || {})) {
      if (isMetric(k, v) && !k.startsWith("system/") && !metricKeys.includes(k)) metricKeys.push(k);
    }
  }
  metricKeys.sort();
  const shown = metricKeys.slice(0, 8);
  const cols = [["name", "name"], ["state", "state"], ["id", "id"], ["group", "group"],
    ["tags", "tags"], ["created", "created_at"], ...shown.map((k) => [k, "summary." + k])];
  const head = h("tr", {}, h("th", {}));
  for (const [label, field] of cols) {
    const mark = sort === field ? " ▲" : sort === "-" + field ? " ▼" : "";
    head.append(h("th", { class: "sortable", text: label + mark, title: "sort by " + field,
      onclick: () => nav({ sort: sort === field ? "-" + field : field, offset: "" }) }));
  }
  const body = h("tbody");
  const selected = new Set();
  for (const r of runs) {
    const box = h("input", { type: "checkbox", class: "pick", value: String(r.id) });
    box.addEventListener("change", () => {
      box.checked ? selected.add(String(r.id)) : selected.delete(String(r.id));
      compare.disabled = selected.size < 2;
    });
    const name = h("a", { href: runHash(entity, project, String(r.id)), text: fmt(r.name || r.id) });
    const cells = [
      h("td", {}, box), h("td", { class: "name" }, name),
      h("td", { class: "state-" + String(r.state), text: fmt(r.state) }),
      h("td", { text: fmt(r.id) }), h("td", { text: fmt(r.group) }), h("td", { text: fmt(r.tags) }),
      h("td", { text: fmtTime(r.created_at) }),
      ...shown.map((k) => h("td", { class: "num", text: fmt((r.summary || {})[k]) })),
    ];
    body.append(h("tr", {}, ...cells));
  }
  table.replaceChildren(h("thead", {}, head), body);
  compare.addEventListener("click", () => {
    location.hash = "#/c/" + enc(entity) + "/" + enc(project) + "/" + [...selected].map(enc).join(",");
  });
  const total = typeof doc.total === "number" ? doc.total : null;
  const more = total !== null ? offset + runs.length < total : Boolean(doc.next);
  pager.append(h("span", { class: "muted", id: "count",
    text: runs.length ? `runs ${offset + 1}–${offset + runs.length}` + (total !== null ? ` of ${total}` : "")
      : "no runs match" }));
  if (offset > 0) pager.append(h("button", { type: "button", text: "← previous",
    onclick: () => nav({ offset: String(Math.max(0, offset - PAGE)) }) }));
  if (more) pager.append(h("button", { type: "button", text: "next →",
    onclick: () => nav({ offset: String(offset + PAGE) }) }));
}

// -- one run -------------------------------------------------------------------------------
async function chartBuckets(entity, project, id, keys, stream) {
  const byKey = new Map();
  for (let i = 0; i < keys.length; i += CHART_KEYS) {
    const doc = await getJSON(runPath(entity, project, id) + "/chart",
      { key: keys.slice(i, i + CHART_KEYS), buckets: BUCKETS, stream }); // each as it is: "a,b" is one name
    for (const b of doc.buckets || []) {
      if (!byKey.has(b.key)) byKey.set(b.key, []);
      byKey.get(b.key).push(b);
    }
  }
  return byKey;
}

async function systemKeys(entity, project, id) {
  const doc = await getJSON(runPath(entity, project, id) + "/history",
    { stream: "system", limit: 500 });
  const keys = new Set();
  for (const row of doc.rows || []) for (const k of Object.keys(row)) if (!k.startsWith("_")) keys.add(k);
  return [...keys].sort();
}

function metricsOf(summary) {
  return Object.entries(summary || {}).filter(([k, v]) => isMetric(k, v) && !k.startsWith("system/"))
    .map(([k]) => k).sort();
}

export async function runView(main, entity, project, id) {
  const run = await getJSON(runPath(entity, project, id));
  const meta = run.meta || {};
  const facts = h("dl", { class: "meta" });
  const fact = (k, v) => {
    const text = Array.isArray(v) ? v.map(fmt).join(k === "command" ? " " : ", ") : fmt(v);
    if (text) facts.append(h("dt", { text: k }), h("dd", { text }));
  };
  fact("state", run.state);
  fact("id", meta.id);
  fact("created", fmtTime(meta.created_at));
  fact("group", meta.group);
  fact("tags", meta.tags);
  fact("notes", meta.notes);
  if (meta.git) fact("git", [meta.git.commit, meta.git.remote].filter(Boolean).join(" "));
  if (meta.command) fact("command", meta.command);
  const charts = h("div", { class: "grid", id: "charts" });
  const system = h("div", { class: "grid", id: "system" });
  const console_ = h("pre", { class: "console", id: "console" });
  const config = configTable([{ label: fmt(meta.name || id), config: meta.config || {} }], false);
  main.replaceChildren(
    h("h2", { text: fmt(meta.name || id), class: "state-" + String(run.state) }), facts,
    h("section", {}, h("h2", { text: "Charts" }), charts),
    h("section", {}, h("h2", { text: "System metrics" }), system),
    h("section", {}, h("h2", { text: "Console" }), console_),
    h("section", {}, h("h2", { text: "Config" }), config),
  );
  const draw = async (box, keys, stream, empty) => {
    const buckets = keys.length ? await chartBuckets(entity, project, id, keys, stream) : new Map();
    const figs = keys.filter((k) => buckets.has(k)).map((k) =>
      chartFigure(k, [{ label: fmt(meta.name || id), color: COLORS[0], buckets: buckets.get(k) }]));
    box.replaceChildren(...(figs.length ? figs : [h("p", { class: "muted", text: empty })]));
  };
  await draw(charts, metricsOf(run.summary), "history", "no metrics logged yet");
  await draw(system, await systemKeys(entity, project, id), "system", "no system metrics uploaded yet");
  const log = await getText(runPath(entity, project, id) + "/files/output.log", CONSOLE_BYTES);
  if (log === null) console_.textContent = "no console uploaded";
  else {
    const head = log.cut ? "… (its last " + CONSOLE_BYTES / 1024 + " KiB)\n" : "";
    console_.textContent = head + (consoleText(log.text) || "(empty)");
    console_.scrollTop = console_.scrollHeight; // the end of the log first, as a tail
  }
  return String(run.state); // app.js decides whether to refresh
}

// -- compare -------------------------------------------------------------------------------
function flatten(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj || {})) {
    if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, prefix + k + ".", out);
    else out[prefix + k] = v;
  }
  return out;
}

function configTable(runs, onlyDiffering) {
  const flat = runs.map((r) => flatten(r.config, "", {}));
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].filter((k) => !k.startsWith("_")).sort();
  const head = h("tr", {}, h("th", { text: "config" }), ...runs.map((r) => h("th", { text: r.label })));
  const body = h("tbody");
  for (const k of keys) {
    const values = flat.map((f) => JSON.stringify(f[k] === undefined ? null : f[k]));
    const differs = new Set(values).size > 1;
    if (onlyDiffering && !differs) continue;
    body.append(h("tr", {}, h("td", { text: k }),
      ...flat.map((f) => h("td", { class: differs ? "differs" : "", text: fmt(f[k]) }))));
  }
  if (!body.children.length) {
    body.append(h("tr", {}, h("td", { class: "muted", text: onlyDiffering ? "no config differs" : "no config" })));
  }
  return h("table", { class: "config" }, h("thead", {}, head), body);
}

export async function compareView(main, entity, project, ids) {
  const runs = await Promise.all(ids.map((id) => getJSON(runPath(entity, project, id))));
  const labels = runs.map((r, i) => fmt((r.meta || {}).name || ids[i]));
  const keys = [...new Set(runs.flatMap((r) => metricsOf(r.summary)))].sort();
  const charts = h("div", { class: "grid", id: "charts" });
  const diff = h("div", { id: "config-diff" });
  const all = h("input", { type: "checkbox", id: "all-config" });
  const tableFor = () => configTable(runs.map((r, i) => ({ label: labels[i], config: (r.meta || {}).config })), !all.checked);
  all.addEventListener("change", () => diff.replaceChildren(tableFor()));
  diff.append(tableFor());
  main.replaceChildren(
    h("h2", { text: "Compare " + labels.join(" · ") }),
    h("section", {}, h("h2", { text: "Charts" }), charts),
    h("section", {}, h("h2", { text: "Config" }),
      h("label", {}, all, document.createTextNode(" show equal values too")), diff),
  );
  const perRun = await Promise.all(ids.map((id) => chartBuckets(entity, project, id, keys, "history")));
  const figs = keys.map((k) => chartFigure(k, ids.map((id, i) => ({
    label: labels[i], color: COLORS[i % COLORS.length], buckets: perRun[i].get(k) || [] }))));
  charts.replaceChildren(...(figs.length ? figs : [h("p", { class: "muted", text: "no metrics" })]));
}
