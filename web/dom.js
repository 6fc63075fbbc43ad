// dom.js - small DOM helpers shared by the views. Text is always set as
// text (never as HTML): message bodies and queue names are untrusted.

export const $ = (id) => document.getElementById(id);

// el("li", {class: "x", onclick: f}, child, "text", ...)
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// "12 s", "4 min", "3 h", "2 d"
export function fmtAge(s) {
  if (s === null || s === undefined) return "–";
  s = Math.max(0, Math.floor(s));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 172800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

// Shows `text` in an error slot (a <p class="err">) and marks its field.
export function fieldError(field, slot, text) {
  slot.textContent = text || "";
  if (field) {
    if (text) field.setAttribute("aria-invalid", "true");
    else field.removeAttribute("aria-invalid");
  }
}

// A button that asks once more before acting ("Delete" → "Really delete?").
export function confirmButton(button, ask, act) {
  const label = button.textContent;
  let armed = 0;
  button.addEventListener("click", () => {
    if (armed) {
      clearTimeout(armed);
      armed = 0;
      button.textContent = label;
      act();
      return;
    }
    button.textContent = ask;
    armed = setTimeout(() => {
      armed = 0;
      button.textContent = label;
    }, 4000);
  });
}

// Parses a JSON text; returns {value} or {error}.
export function parseJson(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: `Not valid JSON: ${e.message}` };
  }
}
