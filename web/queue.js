// queue.js - the page of one queue (#/q/NAME): live stats, the live tail,
// the post form, the claims panel, the metadata editor and delete.
//
// The page's elements are in index.html once; init() wires them once and
// open()/close() switch the queue they act on.

import * as api from "./api.js";
import { $, el, fmtAge, fieldError, confirmButton, parseJson } from "./dom.js";
import { fmtRate, sparkline } from "./rates.js";
import { Tail } from "./tail.js";

const TAIL_MAX = 200; // messages kept on the page

let name = null;
let rates = null;
let metaPrev = null;
let ageTimer = 0;

const tail = new Tail({
  onMessages: (msgs) => msgs.forEach(showMessage),
  onState: (text, live) => {
    $("tail-state").textContent = text;
    $("tail-state").className = `state ${live ? "live" : ""}`;
    const pause = $("tail-pause");
    pause.disabled = !tail.queue;
    pause.textContent = tail.paused ? "Resume" : "Pause";
  },
  onNotice: (text, kind) => {
    const n = $("tail-notice");
    n.hidden = false;
    n.textContent = text;
    n.className = `notice ${kind}`;
  },
});

/* --------------------------------------------------------------- tail */

function showMessage(m) {
  const list = $("tail-list");
  const got = Date.now();
  const age = el("span", { class: "age", text: fmtAge(m.age) });
  age.dataset.age = m.age;
  age.dataset.got = got;
  let body;
  try {
    body = JSON.stringify(m.body, null, 2);
  } catch {
    body = String(m.body);
  }
  const id = el("button", { type: "button", class: "id link", title: "Use as the tail's marker", text: m.id });
  id.addEventListener("click", () => {
    $("tail-from").value = "marker";
    $("tail-marker").disabled = false;
    $("tail-marker").value = m.id;
    $("tail-marker").focus();
  });
  const li = el("li", { class: "msg" },
    el("div", { class: "msg-head" }, id,
      el("span", {}, "age ", age), el("span", { text: `ttl ${m.ttl} s` })),
    el("pre", { class: "body", text: body }));
  list.prepend(li);
  while (list.children.length > TAIL_MAX) list.lastElementChild.remove();
}

function tickAges() {
  const now = Date.now();
  for (const a of document.querySelectorAll("#tail-list .age")) {
    a.textContent = fmtAge(Number(a.dataset.age) + (now - Number(a.dataset.got)) / 1000);
  }
}

function initTail() {
  const from = $("tail-from");
  const marker = $("tail-marker");
  from.addEventListener("change", () => {
    marker.disabled = from.value !== "marker";
  });
  $("tail-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (from.value === "marker" && !/^[0-9a-f]{24}$/.test(marker.value.trim())) {
      $("tail-state").textContent = "A marker is a message id: 24 lowercase hex digits.";
      marker.focus();
      return;
    }
    $("tail-notice").hidden = true;
    tail.start(name, from.value, marker.value.trim());
  });
  $("tail-pause").addEventListener("click", () => {
    if (tail.paused) tail.resume();
    else tail.pause();
  });
  $("tail-clear").addEventListener("click", () => {
    $("tail-list").replaceChildren();
    $("tail-notice").hidden = true;
  });
}

/* --------------------------------------------------------------- post */

// Which field a server error is about, from its description.
function errorField(description) {
  if (/\bttl\b/i.test(description)) return "ttl";
  if (/delay/i.test(description)) return "delay";
  return "body";
}

function clearPostErrors() {
  for (const f of ["body", "ttl", "delay"]) fieldError($(`post-${f}`), $(`post-${f}-err`), "");
}

function initPost() {
  $("post-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearPostErrors();
    $("post-msg").textContent = "";
    const p = parseJson($("post-body").value);
    if (p.error) {
      fieldError($("post-body"), $("post-body-err"), p.error);
      $("post-body").focus();
      return;
    }
    const msg = { body: p.value };
    for (const f of ["ttl", "delay"]) {
      const input = $(`post-${f}`);
      if (input.value.trim() === "") {
        if (input.validity.badInput) {
          fieldError(input, $(`post-${f}-err`), "A whole number of seconds.");
          return;
        }
        continue;
      }
      msg[f] = Number(input.value);
    }
    try {
      const r = await api.postMessage(name, msg);
      const id = r.resources[0].split("/").pop();
      $("post-msg").textContent = `Posted ${id}.`;
    } catch (e) {
      const f = errorField(e.description);
      fieldError($(`post-${f}`), $(`post-${f}-err`), `${e.title}: ${e.description}`.replace(/: $/, ""));
      $(`post-${f}`).focus();
    }
  });
}

/* ------------------------------------------------------------- claims */

function claimCard(c) {
  const items = el("ul", { class: "claim-msgs" });
  const info = el("span", { class: "claim-info" });
  const card = el("li", { class: "claim" });
  const release = el("button", { type: "button", class: "small", text: "Release" });
  const refresh = el("button", { type: "button", class: "small", text: "Refresh" });
  const gone = (why) => {
    info.textContent = `${c.id.slice(0, 8)}… ${why}`;
    release.disabled = refresh.disabled = true;
    items.replaceChildren();
    setTimeout(() => card.remove(), 5000);
  };
  const render = (msgs, age, ttl) => {
    info.textContent = `${c.id.slice(0, 8)}… · ${msgs.length} message${msgs.length === 1 ? "" : "s"}` +
      (ttl ? ` · ${fmtAge(ttl - age)} left` : "");
    info.title = `claim ${c.id}`;
    items.replaceChildren(...msgs.map((m) => {
      const del = el("button", { type: "button", class: "small warn", "aria-label": `Delete message ${m.id}`, text: "Delete" });
      const row = el("li", {}, el("code", { class: "id", text: m.id }),
        el("span", { class: "snippet", text: JSON.stringify(m.body) }), del);
      del.addEventListener("click", async () => {
        try {
          await api.deleteMessage(name, m.id, c.id);
          row.remove();
        } catch (e) {
          $("claim-msg").textContent = `${e.title}: ${e.description}`;
        }
      });
      return row;
    }));
  };
  refresh.addEventListener("click", async () => {
    try {
      const d = await api.getClaim(name, c.id);
      render(d.messages || [], d.age, d.ttl);
    } catch (e) {
      if (e.status === 404) gone("expired or released");
      else $("claim-msg").textContent = `${e.title}: ${e.description}`;
    }
  });
  release.addEventListener("click", async () => {
    try {
      await api.releaseClaim(name, c.id);
      gone("released");
    } catch (e) {
      $("claim-msg").textContent = `${e.title}: ${e.description}`;
    }
  });
  render(c.messages, 0, c.ttl);
  card.append(el("div", { class: "claim-head" }, info, refresh, release), items);
  return card;
}

function initClaims() {
  $("claim-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("claim-msg").textContent = "";
    const limit = Number($("claim-limit").value) || 10;
    const ttl = Number($("claim-ttl").value) || 300;
    const grace = Number($("claim-grace").value) || 60;
    try {
      const c = await api.claim(name, limit, ttl, grace);
      if (!c) {
        $("claim-msg").textContent = "Nothing to claim.";
        return;
      }
      c.ttl = ttl;
      $("claim-list").prepend(claimCard(c));
    } catch (e) {
      $("claim-msg").textContent = `${e.title}: ${e.description}`;
    }
  });
}

/* ----------------------------------------------------------- metadata */

async function loadMetadata() {
  fieldError($("meta-text"), $("meta-err"), "");
  try {
    metaPrev = await api.getMetadata(name);
    $("meta-text").value = JSON.stringify(metaPrev, null, 2);
  } catch (e) {
    fieldError($("meta-text"), $("meta-err"), `${e.title}: ${e.description}`);
  }
}

function initMetadata() {
  $("meta-reload").addEventListener("click", loadMetadata);
  $("meta-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("meta-text");
    fieldError(text, $("meta-err"), "");
    $("meta-msg").textContent = "";
    const p = parseJson(text.value);
    if (p.error || typeof p.value !== "object" || p.value === null || Array.isArray(p.value)) {
      fieldError(text, $("meta-err"), p.error || "Metadata must be a JSON object.");
      return;
    }
    const ops = api.metadataPatch(metaPrev || {}, p.value);
    if (ops.length === 0) {
      $("meta-msg").textContent = "No changes.";
      return;
    }
    try {
      metaPrev = await api.patchMetadata(name, ops);
      text.value = JSON.stringify(metaPrev, null, 2);
      $("meta-msg").textContent = "Saved.";
    } catch (e) {
      fieldError(text, $("meta-err"), `${e.title}: ${e.description}`.replace(/: $/, ""));
    }
  });
}

/* --------------------------------------------------------- page itself */

/* -------------------------------------------------------------- feeds */

function showFeeds(signed) {
  $("feed-list").replaceChildren(...api.FEEDS.map((f) => {
    const url = api.feedUrl(name, f.path, signed);
    const input = el("input", { type: "text", readonly: "", value: url, "aria-label": `${f.label} feed URL` });
    const copy = el("button", { type: "button", text: "Copy" });
    copy.addEventListener("click", async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(url);
        $("feed-msg").textContent = `${f.label} URL copied.`;
      } catch {
        $("feed-msg").textContent = "Selected: copy it with Ctrl+C.";
      }
    });
    return el("li", { class: "feed" }, el("span", { class: "feed-kind", text: f.label }), input, copy);
  }));
}

function initFeeds() {
  $("feed-sign").addEventListener("click", async () => {
    const expires = new Date(Date.now() + 30 * 86400e3).toISOString().slice(0, 19);
    $("feed-msg").textContent = "";
    $("feed-msg").className = "ok";
    try {
      showFeeds(await api.shareFeeds(name, expires));
      $("feed-msg").textContent = `Signed until ${expires} UTC.`;
    } catch (e) {
      $("feed-msg").className = "err";
      $("feed-msg").textContent = e.status === 400 && /key/.test(e.description)
        ? "This hub signs no URLs (it has no signing key)."
        : `${e.title}: ${e.description}`.replace(/: $/, "");
    }
  });
}

export function init() {
  initTail();
  initPost();
  initClaims();
  initMetadata();
  initFeeds();
  confirmButton($("queue-delete"), "Really delete it and its messages?", async () => {
    try {
      await api.deleteQueue(name);
      location.hash = "#/";
    } catch (e) {
      $("tail-state").textContent = `delete failed: ${e.message}`;
    }
  });
}

export function open(queue, queueRates) {
  name = queue;
  rates = queueRates;
  $("queue-title").textContent = queue;
  $("queue-stats").replaceChildren();
  $("tail-list").replaceChildren();
  $("tail-notice").hidden = true;
  $("claim-list").replaceChildren();
  $("claim-msg").textContent = "";
  $("post-msg").textContent = "";
  $("tail-from").value = "now";
  $("tail-marker").disabled = true;
  clearPostErrors();
  $("feed-msg").textContent = "";
  showFeeds(null);
  loadMetadata();
  tail.start(queue, "now");
  ageTimer = setInterval(tickAges, 1000);
}

export function close() {
  tail.stop();
  clearInterval(ageTimer);
  name = null;
}

export async function poll() {
  const queue = name;
  const [st, c] = await Promise.all([api.getStats(queue), api.getCounters(queue)]);
  if (queue !== name) return;
  rates.add(c);
  const stat = (label, value) => el("div", { class: "stat" }, el("dt", { text: label }), el("dd", { text: String(value) }));
  $("queue-stats").replaceChildren(
    el("dl", { class: "nums big" },
      stat("total", st.total), stat("claimed", st.claimed), stat("free", st.free),
      stat("oldest", st.oldest ? fmtAge(st.oldest.age) : "–"),
      stat("in /s", fmtRate(rates.rateIn)), stat("out /s", fmtRate(rates.rateOut))),
    sparkline(rates, 480, 48),
    el("p", { class: "hint legend" }, el("span", { class: "key in" }), "in ",
      el("span", { class: "key out" }), "out (messages per second, last minute)"));
}
