// Calls: search ended calls (number, extension, time range, outcome), and one call's
// trace -- its events in order, then per webhook what was sent (dialect, method, URL
// without credentials, body as sent) and every attempt (status, duration, error), with
// buttons to retry a failed delivery and to replay the call to one webhook.

import { api } from "./api.js";
import { el, fmt, ms, notice, onAction, renderRows } from "./dom.js";

let cursor = null;
let lastQuery = {};
let shown = "";

function outcome(c) {
  if (c.answered) return "answered";
  return c.missed ? "missed" : "not answered";
}

async function search(query, more = false) {
  const table = document.getElementById("search-table");
  const page = await api("/api/v1/calls", { query: { ...query, limit: 50, before: more ? cursor : undefined } });
  cursor = page.next_cursor;
  const rows = more ? [...JSON.parse(table.dataset.items || "[]"), ...page.items] : page.items;
  table.dataset.items = JSON.stringify(rows);
  renderRows(table.tBodies[0], rows, (c) => c.call_id, (c) => [
    { text: fmt.stamp(c.ended_at), href: `#/call/${encodeURIComponent(c.call_id)}`, th: true },
    c.caller_name && c.caller_name !== c.caller_num ? `${c.caller_name} ${c.caller_num}` : c.caller_num,
    c.called_num,
    c.answering_exten,
    { text: outcome(c), cls: `state state-${outcome(c).replace(" ", "-")}` },
  ]);
  document.getElementById("search-more").hidden = !cursor;
}

function formQuery(form) {
  const f = new FormData(form);
  const q = {};
  for (const k of ["number", "extension", "outcome"]) if (f.get(k)) q[k] = String(f.get(k)).trim();
  for (const k of ["since", "until"]) if (f.get(k)) q[k] = new Date(String(f.get(k))).toISOString();
  return q;
}

export function showSearch(params) {
  document.getElementById("trace").hidden = true;
  document.getElementById("panel-search").hidden = false;
  shown = "";
  const form = document.getElementById("calls-search");
  if (params && params.get("number")) form.elements.number.value = params.get("number");
  lastQuery = formQuery(form);
  search(lastQuery).catch((e) => notice(`Search failed: ${e.message}`, "error"));
}

function failed(d) {
  return d.status === "dead" || d.status === "expired" || (d.status !== "done" && Boolean(d.last_error));
}

function deliveryItem(d, types) {
  const bad = failed(d);
  const item = el("li", { class: `delivery ${bad ? "bad" : d.status === "done" ? "ok" : ""}`, "data-id": d.id,
    "data-status": d.status });
  const head = el("div", { class: "delivery-head" },
    el("strong", {}, types.get(d.event_id) || d.event_id), " ",
    el("span", { class: `badge status-${d.status}` }, d.status), " ",
    `${fmt.n(d.attempts)} attempt${d.attempts === 1 ? "" : "s"}`,
    d.last_error ? el("span", { class: "error-text" }, ` — ${d.last_error}`) : null);
  if (d.status === "dead" || d.status === "expired") {
    head.append(" ", el("button", { type: "button", "data-action": "retry", "data-arg": d.id }, "Retry"));
  } else if (d.status === "pending" && d.attempts > 0) {
    head.append(" ", el("button", { type: "button", "data-action": "send-now", "data-arg": d.id }, "Retry now"));
  }
  const r = d.request;
  const details = el("details", {}, el("summary", {}, "Request and attempts"),
    el("p", {}, el("code", {}, `${r.method} ${r.url}`)),
    el("pre", { class: "body" }, r.body || "(no body)"));
  if (d.attempt_log.length) {
    const rows = d.attempt_log.map((a) => el("tr", {},
      el("td", {}, fmt.stamp(ms(a.at))), el("td", {}, a.status === null ? "—" : String(a.status)),
      el("td", { class: "num" }, fmt.ms(a.duration_ms)), el("td", {}, a.error || a.body.slice(0, 200))));
    details.append(el("div", { class: "table-wrap" }, el("table", { class: "attempts" },
      el("thead", {}, el("tr", {}, ...["Time", "Status", "Duration", "Error / response"].map((h) =>
        el("th", { scope: "col" }, h)))), el("tbody", {}, ...rows))));
  }
  item.append(head, details);
  return item;
}

function eventLine(ev) {
  const bits = [];
  if (ev.leg) bits.push(ev.leg.name ? `${ev.leg.name} (${ev.leg.number})` : ev.leg.number);
  if (ev.queue) bits.push(`queue ${ev.queue}`);
  if (ev.hangup) bits.push(ev.hangup.reason);
  if (ev.agent && ev.agent.pause_reason) bits.push(ev.agent.pause_reason);
  if (ev.outcome) bits.push(ev.outcome.answered ? `answered by ${ev.outcome.answering_exten}` : "not answered");
  return el("li", {}, el("time", { datetime: ev.ts }, fmt.time(ev.ts)), " ", el("strong", {}, ev.type),
    bits.length ? ` — ${bits.join(", ")}` : "");
}

export async function showTrace(callId) {
  shown = callId;
  const box = document.getElementById("trace");
  document.getElementById("panel-search").hidden = true;
  box.hidden = false;
  box.replaceChildren(el("p", {}, "Loading…"));
  let call;
  let deliveries;
  let hooks;
  try {
    [call, deliveries, hooks] = await Promise.all([api(`/api/v1/calls/${encodeURIComponent(callId)}`),
      api(`/api/v1/calls/${encodeURIComponent(callId)}/deliveries`), api("/api/v1/webhooks")]);
  } catch (e) {
    box.replaceChildren(el("h2", { id: "trace-h" }, "Call"), el("p", { class: "error" }, e.message));
    return;
  }
  if (shown !== callId) return;
  const first = call.events[0]?.party || call.live || {};
  const types = new Map(call.events.map((e) => [e.id, e.type]));
  const subs = new Map(hooks.map((h) => [h.id, h]));
  const bySub = new Map();
  for (const d of deliveries) {
    if (!bySub.has(d.subscription_id)) bySub.set(d.subscription_id, []);
    bySub.get(d.subscription_id).push(d);
  }
  const parts = [el("div", { class: "panel-head" }, el("h2", { id: "trace-h" },
    `Call ${first.caller_num || ""} → ${first.called_num || ""}`),
    el("div", { class: "actions" }, el("a", { href: "#/calls", class: "button" }, "Back to search"),
      el("button", { type: "button", "data-action": "refresh", "data-arg": callId }, "Refresh"))),
    el("p", { class: "muted" }, `Call id ${callId}`), el("h3", {}, "Timeline"),
    el("ol", { class: "timeline" }, ...call.events.map(eventLine)), el("h3", {}, "Deliveries")];
  if (!bySub.size) parts.push(el("p", {}, "No webhook received this call."));
  for (const [subId, list] of bySub) {
    const s = subs.get(subId);
    parts.push(el("section", { class: "sub", "data-sub": subId },
      el("h4", {}, `${subId} — ${s ? `${s.dialect}, ${s.method} ${list[0].request.url}` : list[0].request.url}`,
        " ", el("button", { type: "button", "data-action": "replay", "data-arg": subId },
          "Replay this call to this webhook")),
      el("ul", { class: "deliveries plain" }, ...list.map((d) => deliveryItem(d, types)))));
  }
  box.replaceChildren(...parts);
}

async function act(action, arg, button) {
  button.disabled = true;
  try {
    if (action === "retry") await api(`/api/v1/deliveries/${arg}/retry`, { method: "POST" });
    else if (action === "send-now") await api(`/api/v1/deliveries/${arg}/send-now`, { method: "POST" });
    else if (action === "replay") {
      const r = await api("/api/v1/deliveries/replay", { method: "POST", body: { subscription_id: arg,
        call_id: shown } });
      notice(`Replaying ${fmt.n(r.count)} deliveries to ${arg}.`);
    }
  } catch (e) {
    notice(`${action}: ${e.message}`, "error");
  }
  setTimeout(() => showTrace(shown), action === "refresh" ? 0 : 800);
}

export function init() {
  const form = document.getElementById("calls-search");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    lastQuery = formQuery(form);
    search(lastQuery).catch((err) => notice(`Search failed: ${err.message}`, "error"));
  });
  document.getElementById("search-more").addEventListener("click", () => {
    search(lastQuery, true).catch((err) => notice(`Search failed: ${err.message}`, "error"));
  });
  onAction(document.getElementById("trace"), act);
}
