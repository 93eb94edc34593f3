// The page's shell: who is logged in, the login form, routing by the URL's #fragment,
// the status line (a dropped server is a status, never a crash) and live refresh of
// running runs.

import { getJSON, HttpError, sendJSON } from "./api.js";
import { compareView, h, projectHash, projectsView, runHash, runsView, runView } from "./views.js";

const main = document.getElementById("main");
const status = document.getElementById("status");
const who = document.getElementById("who");
const logoutButton = document.getElementById("logout");
const crumbs = document.getElementById("crumbs");
const REFRESH_MS = 10000;
const RETRY_MS = 5000;
// a run seen running that the server then calls crashed is followed this long: its final
// state may be on its way (a server on the training host sees the script's pid gone before
// the agent's last sync arrives; an agent backing off from a dropped server sends it later)
const FOLLOW_CRASHED_MS = 5 * 60 * 1000;
let timer = null;
let generation = 0;
let seenRunning = { hash: "", at: 0 }; // the run last seen running, and when

/** Worth retrying: the server unreachable or failing (5xx), or anything that is no HTTP
 * answer at all (a body that broke off, a page bug): the page says it and tries again. */
const transient = (e) => !(e instanceof HttpError) || e.status === 0 || e.status >= 500;

/** The status line while the page of a run (at `hash`) keeps refreshing, or "" when it
 * stops. */
function following(state, hash) {
  const every = "refreshing every " + REFRESH_MS / 1000 + " s";
  if (state === "running") {
    seenRunning = { hash, at: Date.now() };
    return "running: " + every;
  }
  if (state === "crashed" && seenRunning.hash === hash &&
      Date.now() - seenRunning.at < FOLLOW_CRASHED_MS) {
    return "no sign of life from the run: crashed, or its final state is on its way; " + every;
  }
  return "";
}

function say(text, isError) {
  status.textContent = text || "";
  status.className = isError ? "error" : "";
}

function loginForm(message) {
  who.textContent = "";
  logoutButton.hidden = true;
  crumbs.replaceChildren();
  const key = h("input", { type: "password", id: "key", placeholder: "flk_…",
    autocomplete: "current-password", required: true });
  const problem = h("div", { class: "error", id: "login-error", text: message || "" });
  const form = h("form", { class: "login", id: "login" },
    h("h2", { text: "Log in to this flightlog server" }),
    h("label", { text: "API key (from your admin: flightlog server key create USER)" }),
    key, h("button", { type: "submit", id: "login-button", text: "Log in" }), problem,
    h("p", { class: "muted", text: "The key is exchanged for a session that ends when you log out or after 12 hours; the page never stores it." }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await sendJSON("POST", "/api/v1/session", { key: key.value.trim() });
      key.value = "";
      await route();
    } catch (e) {
      problem.textContent = e.message;
    }
  });
  main.replaceChildren(form);
  key.focus();
}

function parse() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, q] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(q || "") };
}

function setCrumbs(parts) {
  const items = [];
  if (parts.length >= 3) {
    const [, e, p] = parts;
    items.push(h("a", { href: projectHash(e, p), text: e + "/" + p }));
    if (parts[0] === "r" && parts[3]) items.push(document.createTextNode(" / "),
      h("a", { href: runHash(e, p, parts[3]), text: parts[3] }));
  }
  crumbs.replaceChildren(...items);
}

async function route() {
  const mine = ++generation;
  const hash = location.hash;
  clearTimeout(timer);
  let me;
  try {
    me = await getJSON("/api/v1/whoami");
  } catch (e) {
    if (e.status === 401) return loginForm();
    return retry(e, mine);
  }
  who.textContent = String(me.user);
  logoutButton.hidden = false;
  const { parts, query } = parse();
  setCrumbs(parts);
  say("");
  try {
    let live = "";
    if (parts[0] === "p" && parts.length >= 3) await runsView(main, parts[1], parts[2], query);
    else if (parts[0] === "r" && parts.length >= 4) live = following(await runView(main, parts[1], parts[2], parts[3]), hash);
    else if (parts[0] === "c" && parts.length >= 4) await compareView(main, parts[1], parts[2], parts[3].split(","));
    else await projectsView(main);
    if (mine !== generation) return;
    main.dataset.ready = "1";
    if (live) {
      say(live);
      timer = setTimeout(() => { if (mine === generation) route(); }, REFRESH_MS);
    }
  } catch (e) {
    if (mine !== generation) return;
    if (e.status === 401) return loginForm("your session ended: log in again");
    if (transient(e)) return retry(e, mine);
    main.replaceChildren(h("p", { class: "error", id: "problem", text: e.message }));
    main.dataset.ready = "1";
  }
}

function retry(e, mine) {
  say(e.message || String(e), true);
  if (transient(e)) {
    timer = setTimeout(() => { if (mine === generation) route(); }, RETRY_MS);
  }
}

logoutButton.addEventListener("click", async () => {
  try { await sendJSON("DELETE", "/api/v1/session", {}); } catch (e) { /* gone anyway */ }
  location.hash = "#/";
  loginForm("logged out");
});
window.addEventListener("hashchange", () => { main.dataset.ready = ""; route(); });
route();
