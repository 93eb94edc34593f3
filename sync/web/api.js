// Talking to the server's JSON API with the session cookie (sent by the browser; scripts
// never see it). The server writes NaN and Infinity as Python's json does; parseJSON turns
// those bare tokens into strings so JSON.parse accepts them and the page shows them as such.

export class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const BARE = /^(NaN|-Infinity|Infinity)/;

export function parseJSON(text) {
  let out = "";
  let i = 0;
  let inString = false;
  let from = 0;
  while (i < text.length) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i += 1;
      else if (c === '"') inString = false;
      i += 1;
    } else if (c === '"') {
      inString = true;
      i += 1;
    } else if (c === "N" || c === "I" || (c === "-" && text[i + 1] === "I")) {
      const m = BARE.exec(text.slice(i, i + 9));
      if (m) {
        out += text.slice(from, i) + '"' + m[1] + '"';
        i += m[1].length;
        from = i;
      } else i += 1;
    } else i += 1;
  }
  return JSON.parse(out + text.slice(from));
}

/** A number from a JSON value (NaN for the "NaN"/"Infinity" strings parseJSON made). */
export function num(v) {
  return typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
}

async function request(method, path, { params, body, headers } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (Array.isArray(v)) for (const one of v) url.searchParams.append(k, String(one));
    else if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  const init = { method, headers: { ...(headers || {}) }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new HttpError(0, "unreachable", "the server does not answer; retrying when it returns");
  }
  return response;
}

/** The body's text; a connection that breaks mid-answer is an HttpError of status 0 (the
 * browser's own error has no status, and the page retries only errors it knows). */
async function bodyOf(response) {
  try {
    return await response.text();
  } catch (e) {
    throw new HttpError(0, "cut", "the server's answer broke off; retrying");
  }
}

async function fail(response) {
  let code = "http_" + response.status;
  let message = response.status + " " + response.statusText;
  try {
    const doc = parseJSON(await bodyOf(response));
    if (doc && doc.message) message = String(doc.message);
    if (doc && doc.error) code = String(doc.error);
  } catch (e) { /* not JSON: keep the status line */ }
  throw new HttpError(response.status, code, message);
}

export async function getJSON(path, params) {
  const response = await request("GET", path, { params });
  if (!response.ok) await fail(response);
  return parseJSON(await bodyOf(response));
}

/** {text, cut} of a file's last `maxBytes` (cut: the file is longer), or null when the
 * server has no such file (404). */
export async function getText(path, maxBytes) {
  const headers = maxBytes ? { Range: "bytes=-" + maxBytes } : {};
  const response = await request("GET", path, { headers });
  if (response.status === 404) return null;
  if (response.status === 416) return { text: "", cut: false }; // empty: no last bytes
  if (!response.ok) await fail(response);
  const range = response.headers.get("Content-Range") || "";
  const total = Number(range.split("/")[1]);
  const text = await bodyOf(response);
  const cut = response.status === 206 && !range.startsWith("bytes 0-") && total > 0;
  return { text: cut ? text.slice(text.indexOf("\n") + 1) : text, cut };
}

export async function sendJSON(method, path, body) {
  const response = await request(method, path, { body: body || {} });
  if (!response.ok) await fail(response);
  return parseJSON(await bodyOf(response));
}

export const enc = encodeURIComponent;

export function runPath(entity, project, id) {
  const base = "/api/v1/runs/" + enc(entity) + "/" + enc(project);
  return id === undefined ? base : base + "/" + enc(id);
}
