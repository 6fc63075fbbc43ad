// app.js - the dashboard's entry: connection settings, the two views
// (#/ the queue list, #/q/NAME one queue) and the poll that keeps their
// numbers live. It speaks only Herald's public API (api.js); the live tail
// is tail.js, the queue page queue.js.

import * as api from "./api.js";
import { $, el, fmtAge, fieldError, confirmButton, parseJson } from "./dom.js";
import { Rates, fmtRate, sparkline } from "./rates.js";
import * as queuePage from "./queue.js";

const POLL_MS = 2000; // the list; a queue's page polls its one queue every second
const PAGE_POLL_MS = 1000;
const MAX_POLLED = 50; // queues whose stats are polled on the list

const rates = new Map(); // queue name -> Rates (kept across views)
const rows = new Map(); // queue name -> {li, ...} on the list
let page = null; // the open queue's name, if any
let pollTimer = 0;

function ratesOf(name) {
  if (!rates.has(name)) rates.set(name, new Rates());
  return rates.get(name);
}

function setHealth(ok, text) {
  const h = $("health");
  h.textContent = text;
  h.className = `health ${ok ? "up" : "down"}`;
}

/* ----------------------------------------------------------- settings */

function initSettings() {
  const s = api.settings;
  $("set-project").value = s.project;
  $("set-client").value = s.client;
  $("set-token").value = s.token;
  $("set-client-new").addEventListener("click", () => {
    $("set-client").value = api.newClientId();
  });
  $("settings-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const project = $("set-project").value.trim();
    const client = $("set-client").value.trim();
    if (!project || !/^[0-9a-fA-F-]{32,36}$/.test(client)) {
      $("settings-msg").textContent = "A project id and a UUID client id are needed.";
      return;
    }
    api.saveSettings({ project, client, token: $("set-token").value });
    $("settings-msg").textContent = "Saved.";
    rows.clear();
    $("queue-list").replaceChildren();
    rates.clear();
    if (page) queuePage.close();
    page = null;
    route();
  });
}

/* --------------------------------------------------------- queue list */

function queueRow(name) {
  const li = el("li", { class: "queue" });
  const link = el("a", { class: "qname", href: `#/q/${encodeURIComponent(name)}`, text: name });
  const nums = el("dl", { class: "nums" });
  const cell = {};
  for (const [k, label] of [["total", "total"], ["claimed", "claimed"], ["free", "free"], ["oldest", "oldest"]]) {
    cell[k] = el("dd", { text: "–" });
    nums.append(el("div", {}, el("dt", { text: label }), cell[k]));
  }
  const rateText = el("span", { class: "rate-text", text: "in – /s · out – /s" });
  const spark = el("span", { class: "spark-slot" });
  const del = el("button", { type: "button", class: "warn small", "aria-label": `Delete queue ${name}`, text: "Delete" });
  confirmButton(del, "Really delete?", async () => {
    try {
      await api.deleteQueue(name);
      li.remove();
      rows.delete(name);
      rates.delete(name);
    } catch (e) {
      setHealth(false, `delete failed: ${e.message}`);
    }
  });
  li.append(link, nums, el("div", { class: "rates" }, spark, rateText), del);
  return { li, cell, rateText, spark };
}

function fillStats(cell, st) {
  cell.total.textContent = st.total;
  cell.claimed.textContent = st.claimed;
  cell.free.textContent = st.free;
  cell.oldest.textContent = st.oldest ? fmtAge(st.oldest.age) : "–";
}

async function pollList() {
  const queues = await api.listQueues();
  const names = queues.map((x) => x.name);
  const list = $("queue-list");
  for (const [name, row] of rows) {
    if (!names.includes(name)) {
      row.li.remove();
      rows.delete(name);
    }
  }
  names.forEach((name, i) => {
    if (!rows.has(name)) rows.set(name, queueRow(name));
    const li = rows.get(name).li;
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  $("queues-empty").hidden = names.length > 0;
  await Promise.all(names.slice(0, MAX_POLLED).map(async (name) => {
    const [st, c] = await Promise.all([api.getStats(name), api.getCounters(name)]);
    const row = rows.get(name);
    const r = ratesOf(name);
    r.add(c);
    if (!row) return;
    fillStats(row.cell, st);
    row.rateText.textContent = `in ${fmtRate(r.rateIn)} /s · out ${fmtRate(r.rateOut)} /s`;
    row.spark.replaceChildren(sparkline(r));
  }));
}

function initCreate() {
  const name = $("create-name");
  const meta = $("create-meta");
  $("create-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fieldError(name, $("create-name-err"), "");
    fieldError(meta, $("create-meta-err"), "");
    const n = name.value.trim();
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(n)) {
      fieldError(name, $("create-name-err"), "Up to 64 letters, digits, _ . or -.");
      name.focus();
      return;
    }
    let metadata = {};
    if (meta.value.trim()) {
      const p = parseJson(meta.value);
      if (p.error || typeof p.value !== "object" || Array.isArray(p.value) || p.value === null) {
        fieldError(meta, $("create-meta-err"), p.error || "Metadata must be a JSON object.");
        meta.focus();
        return;
      }
      metadata = p.value;
    }
    try {
      await api.createQueue(n, metadata);
    } catch (e) {
      const slot = /metadata|_/.test(e.description) ? [meta, $("create-meta-err")] : [name, $("create-name-err")];
      fieldError(slot[0], slot[1], `${e.title}: ${e.description}`.replace(/: $/, ""));
      return;
    }
    location.hash = `#/q/${encodeURIComponent(n)}`;
  });
}

/* -------------------------------------------------------- routing, poll */

async function poll() {
  clearTimeout(pollTimer);
  try {
    if (page) await queuePage.poll();
    else await pollList();
    setHealth(true, `connected · ${api.settings.project}`);
  } catch (e) {
    setHealth(false, e.status === 0 ? "hub unreachable" : `error: ${e.message}`);
  }
  pollTimer = setTimeout(poll, page ? PAGE_POLL_MS : POLL_MS);
}

function route() {
  const m = /^#\/q\/(.+)$/.exec(location.hash);
  let name = null;
  try {
    name = m ? decodeURIComponent(m[1]) : null;
  } catch {
    name = null; // a malformed hash: show the queue list
  }
  if (page !== name) {
    if (page) queuePage.close();
    page = name;
    if (name) queuePage.open(name, ratesOf(name));
  }
  $("view-queues").hidden = !!name;
  $("view-queue").hidden = !name;
  document.title = name ? `${name} · Herald` : "Herald";
  poll();
}

initSettings();
initCreate();
queuePage.init();
addEventListener("hashchange", route);
route();
