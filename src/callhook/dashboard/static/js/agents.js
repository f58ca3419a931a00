// Agents: per queue membership, the state (available, ringing, on a call, paused with
// the reason, wrap-up, logged out), the time in it, and today's answered and missed calls
// of that queue (GET /api/v1/agents/stats, `queues`): a queue's agents' answered add up
// to the queue's answered; the agent's calls of other queues and direct calls are not
// repeated on each row (the row's title has the all-calls totals). "Phone" is the
// extension's presence as the PBX's hints tell it (extension.presence).

import { model, onRender } from "./live.js";
import { phoneStates } from "./calls.js";
import { fmt, renderRows, setCount } from "./dom.js";

const since = new Map(); // row key -> [state, since ms]

export function agentState(m, phones) {
  if (m.loggedOut) return { state: "logged out", since: m.since };
  if (m.paused) return { state: "paused", since: m.since, reason: m.reason };
  const phone = phones.get(m.extension);
  if (phone) return { state: phone.state === "talking" ? "on a call" : "ringing", since: phone.since };
  if (m.in_call) return { state: "on a call", since: null };
  if (m.wrapup) return { state: "wrap-up", since: m.wrapup };
  return { state: "available", since: null };
}

function render() {
  const panel = document.getElementById("panel-agents");
  const phones = phoneStates();
  const rows = Array.from(model.members.entries()).map(([key, m]) => ({ key, m, s: agentState(m, phones) }))
    .sort((a, b) => (a.m.name || a.m.extension).localeCompare(b.m.name || b.m.extension) ||
      a.m.queue.localeCompare(b.m.queue));
  setCount(panel, rows.filter((r) => r.s.state !== "logged out").length);
  renderRows(panel.querySelector("tbody"), rows, (r) => r.key, (r) => {
    const prev = since.get(r.key);
    let t = r.s.since;
    if (t === null || t === undefined) t = prev && prev[0] === r.s.state ? prev[1] : Date.now();
    since.set(r.key, [r.s.state, t]);
    const all = model.agentDay.get(r.m.extension) || { answered: 0, missed: 0, queues: [] };
    const day = (all.queues || []).find((q) => q.queue === r.m.queue) || { answered: 0, missed: 0 };
    const title = `all calls today: ${fmt.n(all.answered)} answered, ${fmt.n(all.missed)} missed`;
    const label = r.s.state === "paused" && r.s.reason ? `paused: ${r.s.reason}` : r.s.state;
    return [
      { text: r.m.name ? `${r.m.name} (${r.m.extension || r.m.interface})` : r.m.extension || r.m.interface,
        th: true },
      r.m.queue,
      { text: label, cls: `state state-${r.s.state.replace(/ /g, "-")}` },
      { since: t },
      { text: fmt.n(day.answered), value: day.answered, cls: "num", title },
      { text: fmt.n(day.missed), value: day.missed, cls: day.missed ? "num warn" : "num", title },
      { text: (model.presence.get(r.m.extension) || "").replace(/_/g, " "),
        cls: `presence presence-${model.presence.get(r.m.extension) || "unknown"}` },
    ];
  }, (r) => (r.s.state === "logged out" ? "muted" : ""));
}

export function init() {
  onRender("agents", render);
}
