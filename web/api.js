// api.js - the connection settings and the HTTP API, as the dashboard uses them.
//
// Every request carries Client-ID, X-Project-Id and, when one is set,
// X-Auth-Token. Errors come back as ApiError with the server's JSON error
// body ({"title", "description"}) so forms can show them next to a field.

const KEY = "herald.settings";

function loadSettings() {
  let s = {};
  try {
    s = JSON.parse(localStorage.getItem(KEY) || "{}") || {};
  } catch {
    s = {};
  }
  if (!s.client) s.client = crypto.randomUUID();
  if (!s.project) s.project = "demo";
  if (typeof s.token !== "string") s.token = "";
  localStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

export const settings = loadSettings();

export function saveSettings(next) {
  Object.assign(settings, next);
  localStorage.setItem(KEY, JSON.stringify(settings));
}

export function newClientId() {
  return crypto.randomUUID();
}

export class ApiError extends Error {
  constructor(status, title, description) {
    super(description || title || `HTTP ${status}`);
    this.status = status;
    this.title = title || "";
    this.description = description || "";
  }
}

export function headers(extra = {}) {
  const h = { "Client-ID": settings.client, "X-Project-Id": settings.project };
  if (settings.token) h["X-Auth-Token"] = settings.token;
  return Object.assign(h, extra);
}

export const q = (name) => `/v2/queues/${encodeURIComponent(name)}`;

// One request. `body` (any JSON value) is sent as JSON with `type`.
// Resolves {status, data, headers}; rejects with ApiError (status 0 when
// the server could not be reached).
export async function request(method, path, body, type = "application/json") {
  const init = { method, headers: headers(), cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = type;
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, "Unreachable", "The server could not be reached.");
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const d = data && typeof data === "object" ? data : {};
    throw new ApiError(res.status, d.title || res.statusText, d.description || d.error || "");
  }
  return { status: res.status, data, headers: res.headers };
}

// All queues of the project (pages of 20, at most `max`).
export async function listQueues(max = 200) {
  const out = [];
  let marker = "";
  while (out.length < max) {
    const qs = `limit=20${marker ? `&marker=${encodeURIComponent(marker)}` : ""}`;
    const { data } = await request("GET", `/v2/queues?${qs}`);
    const page = (data && data.queues) || [];
    if (page.length === 0) break;
    out.push(...page);
    marker = page[page.length - 1].name;
  }
  return out;
}

// The feed formats a queue serves, for readers (no headers: ids in the query).
export const FEEDS = [
  { path: "feed.atom", label: "Atom" },
  { path: "feed.rss", label: "RSS 2.0" },
  { path: "feed.json", label: "JSON Feed" },
];

// A feed's absolute URL; `signed` is a share answer covering it, or null.
export function feedUrl(name, path, signed) {
  const u = new URL(`${q(name)}/${path}`, location.origin);
  u.searchParams.set("project_id", settings.project);
  u.searchParams.set("client_id", settings.client);
  if (signed) {
    u.searchParams.set("signature", signed.signature);
    u.searchParams.set("expires", signed.expires);
    u.searchParams.set("methods", signed.methods.join(","));
    u.searchParams.set("paths", signed.paths.join(","));
  }
  return u.toString();
}

// Signs the queue's feed paths for GET until `expires` (ISO 8601, UTC).
export const shareFeeds = (name, expires) =>
  request("POST", `${q(name)}/share`,
    { paths: FEEDS.map((f) => f.path), methods: ["GET"], expires }).then((r) => r.data);

export const getStats = (name) => request("GET", `${q(name)}/stats`).then((r) => r.data.messages);
export const getCounters = (name) => request("GET", `${q(name)}/counters`).then((r) => r.data);
export const getMetadata = (name) => request("GET", q(name)).then((r) => r.data);
export const createQueue = (name, metadata) => request("PUT", q(name), metadata || {});
export const deleteQueue = (name) => request("DELETE", q(name));

// Turns the metadata edit `next` into JSON-patch operations against `prev`.
// A key as one JSON-pointer segment (RFC 6901): "~" and "/" escaped, as
// the server decodes them.
function pointer(key) {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

export function metadataPatch(prev, next) {
  const ops = [];
  for (const [k, v] of Object.entries(next)) {
    const path = `/metadata/${pointer(k)}`;
    if (!(k in prev)) ops.push({ op: "add", path, value: v });
    else if (JSON.stringify(prev[k]) !== JSON.stringify(v)) ops.push({ op: "replace", path, value: v });
  }
  for (const k of Object.keys(prev)) {
    if (!(k in next)) ops.push({ op: "remove", path: `/metadata/${pointer(k)}` });
  }
  return ops;
}

export const patchMetadata = (name, ops) =>
  request("PATCH", q(name), ops, "application/openstack-messaging-v2.0-json-patch").then((r) => r.data);

export const postMessage = (name, message) =>
  request("POST", `${q(name)}/messages`, { messages: [message] }).then((r) => r.data);

// Claims: resolves {id, messages} or null when nothing could be claimed.
export async function claim(name, limit, ttl, grace) {
  const r = await request("POST", `${q(name)}/claims?limit=${limit}`, { ttl, grace });
  if (r.status === 204) return null;
  const loc = r.headers.get("Location") || "";
  return { id: loc.slice(loc.lastIndexOf("/") + 1), messages: r.data.messages || [] };
}

export const getClaim = (name, id) => request("GET", `${q(name)}/claims/${id}`).then((r) => r.data);
export const releaseClaim = (name, id) => request("DELETE", `${q(name)}/claims/${id}`);
export const deleteMessage = (name, id, claimId) =>
  request("DELETE", `${q(name)}/messages/${id}${claimId ? `?claim_id=${claimId}` : ""}`);
