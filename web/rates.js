// rates.js - messages per second in and out, from Herald's counters
// (GET /v2/queues/{q}/counters: monotonic "posted", live "total", server
// "time_ms"), and their sparkline as inline SVG.
//
//   in  = Δposted / Δt
//   out = Δ(posted − total) / Δt     (consumed or expired)
//
// A queue deleted and created again starts its counters over: a sample
// that goes backwards restarts the history instead of showing a negative
// rate.

const SVG = "http://www.w3.org/2000/svg";
export const HISTORY = 60; // samples kept (two minutes at one per two seconds)

export class Rates {
  constructor() {
    this.last = null;
    this.ins = [];
    this.outs = [];
  }

  add(c) {
    const gone = c.posted - c.total;
    const prev = this.last;
    this.last = { t: c.time_ms, posted: c.posted, gone };
    if (!prev || c.time_ms <= prev.t) return;
    if (c.posted < prev.posted || gone < prev.gone) {
      this.ins = [];
      this.outs = [];
      return;
    }
    const dt = (c.time_ms - prev.t) / 1000;
    this.ins.push((c.posted - prev.posted) / dt);
    this.outs.push((gone - prev.gone) / dt);
    if (this.ins.length > HISTORY) this.ins.shift();
    if (this.outs.length > HISTORY) this.outs.shift();
  }

  get rateIn() {
    return this.ins.length ? this.ins[this.ins.length - 1] : null;
  }

  get rateOut() {
    return this.outs.length ? this.outs[this.outs.length - 1] : null;
  }
}

export function fmtRate(r) {
  if (r === null) return "–";
  return r >= 10 ? r.toFixed(0) : r.toFixed(1);
}

function line(values, max, w, h, cls) {
  const p = document.createElementNS(SVG, "polyline");
  const step = w / (HISTORY - 1);
  const x0 = w - step * (values.length - 1);
  const pts = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(h - 1 - (v / max) * (h - 2)).toFixed(1)}`);
  p.setAttribute("points", pts.join(" "));
  p.setAttribute("class", cls);
  return p;
}

// A sparkline of both rates, scaled to the larger; `label` for screen readers.
export function sparkline(rates, w = 120, h = 28) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  const max = Math.max(1, ...rates.ins, ...rates.outs);
  svg.setAttribute("aria-label",
    `messages per second: in ${fmtRate(rates.rateIn)}, out ${fmtRate(rates.rateOut)} (scale 0 to ${fmtRate(max)})`);
  const base = document.createElementNS(SVG, "line");
  base.setAttribute("x1", "0");
  base.setAttribute("x2", String(w));
  base.setAttribute("y1", String(h - 0.5));
  base.setAttribute("y2", String(h - 0.5));
  base.setAttribute("class", "base");
  svg.append(base);
  if (rates.ins.length > 1) svg.append(line(rates.ins, max, w, h, "in"));
  if (rates.outs.length > 1) svg.append(line(rates.outs, max, w, h, "out"));
  return svg;
}
