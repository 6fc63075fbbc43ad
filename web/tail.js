// tail.js - one queue's live tail over WebSocket (/v2/ws, action "subscribe").
//
// The tail keeps only a marker: the id of the last message (or gap) it was
// given. Pause closes the socket; resume, and every reconnect after the
// socket dropped (the hub restarted, the network blinked), subscribes again
// from that marker, so nothing is lost and nothing repeats. What the
// server says about the hole decides the notice:
//
//   subscribe(from marker) --> 201 --> "gap" frame first  --> "gap: N messages expired"
//                                  \-> "messages" first or quiet -> "reconnected — no gap"
//
// A gap is always the first frame of a subscription when there is one, so
// a resumed subscription that stays quiet for RESUME_QUIET_MS had none.

import { settings, getStats } from "./api.js";

const RESUME_QUIET_MS = 800;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 4000;

export class Tail {
  // handlers: onMessages(msgs), onState(text, live), onNotice(text, kind)
  constructor(handlers) {
    this.h = handlers;
    this.ws = null;
    this.queue = null;
    this.marker = null;
    this.from = "now";
    this.running = false; // wanted: connected or reconnecting
    this.backoff = BACKOFF_MIN_MS;
    this.timer = 0;
    this.quiet = 0;
    this.resuming = null; // the notice's verb while a resume is being checked
  }

  // Starts afresh on `queue`: from "now", "oldest" or "marker" (then `marker`).
  async start(queue, from, marker) {
    this.stop();
    // A later start() or stop() supersedes this one, even across the
    // await below (else two sockets would tail the same queue).
    const gen = ++this.gen;
    this.queue = queue;
    this.from = from;
    this.marker = from === "marker" ? marker : null;
    if (from === "now") {
      // Subscribe after the newest message rather than "from now", so a
      // reconnect before the first message still resumes without a hole.
      try {
        const st = await getStats(queue);
        if (st.newest) this.marker = st.newest.href.split("/").pop();
        else this.from = "oldest"; // empty queue: the oldest is now
      } catch {
        /* keep "now" */
      }
      if (gen !== this.gen) return; // stopped or restarted meanwhile
    }
    this.running = true;
    this.connect(null);
  }

  pause() {
    if (!this.running) return;
    this.running = false;
    this.close();
    this.h.onState("paused", false);
  }

  resume() {
    if (this.running || !this.queue) return;
    this.running = true;
    this.connect("resumed");
  }

  stop() {
    this.gen = (this.gen || 0) + 1;
    this.running = false;
    this.close();
    this.queue = null;
    this.h.onState("stopped", false);
  }

  get paused() {
    return !this.running && this.queue !== null;
  }

  close() {
    clearTimeout(this.timer);
    clearTimeout(this.quiet);
    this.resuming = null;
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onclose = ws.onmessage = ws.onerror = null;
    // Closing a socket still connecting makes Chromium log an error; let
    // it open first, then close it without subscribing.
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.onopen = () => ws.close();
    } else {
      ws.onopen = null;
      ws.close();
    }
  }

  // Opens the socket and subscribes; `resuming` names the notice to give
  // ("reconnected", "resumed") or is null for a first start.
  connect(resuming) {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/v2/ws`, "herald.v1");
    this.ws = ws;
    this.h.onState(resuming === "reconnected" ? "reconnecting…" : "connecting…", false);
    ws.onopen = () => {
      const body = { queue_name: this.queue, echo: true };
      if (this.marker) Object.assign(body, { from: "marker", marker: this.marker });
      else body.from = this.from === "oldest" ? "oldest" : "now";
      // A server with --auth tokens or jwt wants the token first (Zaqar's
      // authenticate action); actions run in order, so subscribe follows it.
      if (settings.token) {
        ws.send(JSON.stringify({
          action: "authenticate",
          headers: { "X-Auth-Token": settings.token, "X-Project-ID": settings.project },
          body: {},
        }));
      }
      ws.send(JSON.stringify({
        action: "subscribe",
        headers: { "Client-ID": settings.client, "X-Project-ID": settings.project },
        body,
      }));
    };
    ws.onmessage = (ev) => this.frame(JSON.parse(ev.data), resuming);
    ws.onclose = () => {
      this.ws = null;
      clearTimeout(this.quiet);
      if (!this.running) return;
      this.h.onState("disconnected — reconnecting…", false);
      this.timer = setTimeout(() => this.connect("reconnected"), this.backoff);
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    };
  }

  frame(f, resuming) {
    if (f.request) {
      if (f.request.action === "authenticate" && f.headers && f.headers.status !== 200) {
        this.running = false;
        this.close();
        const why = (f.body && (f.body.exception || f.body.error)) || "refused";
        this.h.onState(`authentication failed: ${why}`, false);
        return;
      }
      if (f.request.action !== "subscribe") return;
      const status = f.headers && f.headers.status;
      if (status !== 201) {
        this.running = false;
        this.close();
        const why = (f.body && (f.body.error || f.body.exception)) || `status ${status}`;
        this.h.onState(`subscribe refused: ${why}`, false);
        return;
      }
      this.backoff = BACKOFF_MIN_MS;
      this.h.onState("live", true);
      if (resuming) {
        this.resuming = resuming;
        this.quiet = setTimeout(() => this.resumed(null), RESUME_QUIET_MS);
      }
      return;
    }
    if (f.event === "gap") {
      this.marker = f.marker;
      const n = f.missed === null ? "an unknown number of" : f.missed;
      if (this.resuming) this.resumed(`gap: ${n} messages expired`);
      else this.h.onNotice(`gap: ${n} messages expired`, "gap");
    } else if (f.event === "messages") {
      this.resumed(null);
      this.marker = f.marker;
      this.h.onMessages(f.messages);
    }
  }

  // Gives the resume notice once: `gap` is the gap's text, or null for none.
  resumed(gap) {
    if (!this.resuming) return;
    const verb = this.resuming;
    this.resuming = null;
    clearTimeout(this.quiet);
    if (gap) this.h.onNotice(`${verb} — ${gap}`, "gap");
    else this.h.onNotice(`${verb} — no gap`, "ok");
  }
}
