// DOM helpers shared by the panels: building elements (text only, never HTML strings),
// keyed table rows that change only when their content does, and the formats of the
// browser's locale and time zone (Intl).

const number = new Intl.NumberFormat(undefined);
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const stamp = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });
const hour = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });

// A time from the API: Unix seconds (a number) or ISO 8601 text -> milliseconds (NaN if neither).
export function ms(t) {
  if (t === null || t === undefined || t === "") return NaN;
  return typeof t === "number" ? t * 1000 : Date.parse(t);
}

export const fmt = {
  n: (v) => (v === null || v === undefined ? "–" : number.format(v)),
  pct: (v) => (v === null || v === undefined ? "–" : percent.format(v)),
  sec: (v) => (v === null || v === undefined ? "–" : `${oneDecimal.format(v)} s`),
  ms: (v) => (v === null || v === undefined ? "–" : `${oneDecimal.format(v)} ms`),
  time: (t) => clock.format(new Date(t)),
  stamp: (t) => stamp.format(new Date(t)),
  hour: (t) => hour.format(new Date(t)),
};

export function duration(seconds) {
  if (!Number.isFinite(seconds)) return "–"; // an unknown start: no made-up time
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// A cell spec: a string, or {text, cls, value, since, href, button: {label, action, arg, cls}, buttons: [...],
// title, th}.
function cell(spec) {
  const s = spec !== null && typeof spec === "object" ? spec : { text: spec ?? "" };
  const td = document.createElement(s.th ? "th" : "td");
  if (s.th) td.scope = "row";
  if (s.cls) td.className = s.cls;
  if (s.title) td.title = s.title;
  if (s.value !== undefined && s.value !== null) td.dataset.value = String(s.value);
  if (s.since !== undefined && s.since !== null) {
    td.dataset.since = String(s.since);
    td.textContent = duration((Date.now() - s.since) / 1000);
  } else if (s.href) {
    td.append(el("a", { href: s.href }, s.text ?? ""));
  } else if (s.button || s.buttons) {
    for (const b of s.buttons || [s.button]) {
      td.append(el("button", { type: "button", class: b.cls, "data-action": b.action, "data-arg": b.arg }, b.label));
    }
  } else {
    td.textContent = s.text ?? "";
  }
  return td;
}

// Make tbody's rows those of `items`, in order; a row is rebuilt only when its cells changed.
export function renderRows(tbody, items, key, cells, rowClass = () => "") {
  const existing = new Map();
  for (const tr of Array.from(tbody.rows)) existing.set(tr.dataset.key, tr);
  const seen = new Set();
  let prev = null;
  for (const item of items) {
    const k = String(key(item));
    seen.add(k);
    const specs = cells(item);
    const cls = rowClass(item) || "";
    const sig = cls + "\u0000" + JSON.stringify(specs);
    let tr = existing.get(k);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.key = k;
    }
    if (tr.dataset.sig !== sig) {
      tr.dataset.sig = sig;
      tr.className = cls;
      tr.replaceChildren(...specs.map(cell));
    }
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    prev = tr;
  }
  for (const [k, tr] of existing) if (!seen.has(k)) tr.remove();
}

// Table buttons by delegation: handler(action, arg, button).
export function onAction(root, handler) {
  root.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-action]");
    if (b && root.contains(b)) handler(b.dataset.action, b.dataset.arg || "", b);
  });
}

export function setCount(panel, n) {
  const c = panel.querySelector(".count");
  if (c) c.textContent = n === null ? "" : `(${fmt.n(n)})`;
}

export function notice(text, kind = "info") {
  const p = document.getElementById("notice");
  p.textContent = text;
  p.className = `notice ${kind}`;
  p.hidden = !text;
}

// Durations in table cells with data-since tick once a second (in the visible view only).
// Cells only: other elements carry data-since as data (the statistics table's range).
export function startTicker() {
  setInterval(() => {
    const now = Date.now();
    for (const td of document.querySelectorAll(".view:not([hidden]) td[data-since]")) {
      td.textContent = duration((now - Number(td.dataset.since)) / 1000);
    }
  }, 1000);
}

export function localMidnight(d = new Date()) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}
