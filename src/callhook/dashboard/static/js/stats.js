// Statistics: per queue and per hour or day, offered, answered, abandoned, service
// level, ASA and AHT -- the numbers of GET /api/v1/queues/stats?bucket=..., shown as a
// table (each cell's data-value is the API's number) and a chart, with the same
// numbers as CSV from /api/v1/queues/stats/csv. Below, agent time per day and queue.

import { api, url } from "./api.js";
import { fmt, notice, renderRows } from "./dom.js";
import { barChart } from "./chart.js";

const dayShort = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "numeric" });
const hourShort = new Intl.DateTimeFormat(undefined, { hour: "2-digit" });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1 });

function isoDay(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function range(form) {
  const [y1, m1, d1] = form.elements.since.value.split("-").map(Number);
  const [y2, m2, d2] = form.elements.until.value.split("-").map(Number);
  return { since: new Date(y1, m1 - 1, d1).toISOString(), until: new Date(y2, m2 - 1, d2 + 1).toISOString(),
    bucket: form.elements.bucket.value };
}

function row(label, q, key, cls) {
  return { key, label, q, cls };
}

async function load() {
  const form = document.getElementById("stats-form");
  const query = range(form);
  const page = await api("/api/v1/queues/stats", { query });
  const table = document.getElementById("stats-table");
  table.dataset.since = page.since;
  table.dataset.until = page.until;
  table.dataset.bucket = query.bucket;
  const rows = [];
  for (const b of page.buckets || []) {
    for (const q of b.queues) if (q.offered) rows.push(row(fmt.hour(b.start), q, `${b.start}|${q.queue}`, ""));
  }
  for (const q of page.queues) rows.push(row("Total", q, `total|${q.queue}`, "total"));
  renderRows(table.tBodies[0], rows, (r) => r.key, (r) => [
    { text: r.label, th: true },
    r.q.queue,
    { text: fmt.n(r.q.offered), value: r.q.offered, cls: "num" },
    { text: fmt.n(r.q.answered), value: r.q.answered, cls: "num" },
    { text: fmt.n(r.q.abandoned), value: r.q.abandoned, cls: "num" },
    { text: fmt.pct(r.q.service_level), value: r.q.service_level, cls: "num",
      title: `answered within ${r.q.service_level_seconds} s` },
    { text: fmt.sec(r.q.asa), value: r.q.asa, cls: "num" },
    { text: fmt.sec(r.q.aht), value: r.q.aht, cls: "num" },
  ], (r) => r.cls);
  const buckets = (page.buckets || []).map((b) => {
    const offered = b.queues.reduce((n, q) => n + q.offered, 0);
    const answered = b.queues.reduce((n, q) => n + q.answered, 0);
    const short = query.bucket === "day" ? dayShort.format(new Date(b.start)) : hourShort.format(new Date(b.start));
    return { offered, answered, label: fmt.hour(b.start), short };
  });
  barChart(document.getElementById("stats-chart"), buckets,
    `Calls offered and answered per ${query.bucket}, all queues`);
  document.getElementById("stats-csv").href = url("/api/v1/queues/stats/csv", query, true);
  await loadAgentTime({ since: query.since, until: query.until });
}

// Agent time per day and queue: login, paused (by reason), talk, idle -- the rows of
// GET /api/v1/agents/time for the same range (each cell's data-value is the API's seconds).
async function loadAgentTime(query) {
  const page = await api("/api/v1/agents/time", { query });
  const table = document.getElementById("agent-time-table");
  const hours = (s) => `${oneDecimal.format(s / 3600)} h`;
  renderRows(table.tBodies[0], page.rows, (r) => `${r.day}|${r.extension}|${r.queue}`, (r) => [
    { text: r.day, th: true },
    r.name ? `${r.extension} ${r.name}` : r.extension,
    r.queue || "–",
    { text: hours(r.login), value: r.login, cls: "num" },
    { text: hours(r.paused), value: r.paused, cls: "num" },
    Object.entries(r.paused_by_reason).map(([k, v]) => `${k || "no reason"} ${hours(v)}`).join(", "),
    { text: hours(r.talk), value: r.talk, cls: "num" },
    { text: hours(r.idle), value: r.idle, cls: "num" },
  ]);
  document.getElementById("agent-time-csv").href = url("/api/v1/agents/time/csv", query, true);
}

export function show() {
  const form = document.getElementById("stats-form");
  if (!form.elements.since.value) {
    const today = isoDay(new Date());
    form.elements.since.value = today;
    form.elements.until.value = today;
  }
  load().catch((e) => notice(`Statistics: ${e.message}`, "error"));
}

export function init() {
  document.getElementById("stats-form").addEventListener("submit", (e) => {
    e.preventDefault();
    load().catch((err) => notice(`Statistics: ${err.message}`, "error"));
  });
}
