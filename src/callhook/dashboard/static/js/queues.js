// Queues: callers waiting and the longest wait (live), agents available / busy / paused
// (live), and today's offered, answered, abandoned, service level, ASA and AHT (the
// statistics API's figures since the browser's midnight). The heading counts queues;
// the callers waiting in all of them are in the "Waiting" column and its total.

import { model, onRender } from "./live.js";
import { phoneStates } from "./calls.js";
import { agentState } from "./agents.js";
import { fmt, renderRows, setCount } from "./dom.js";

function render() {
  const panel = document.getElementById("panel-queues");
  const phones = phoneStates();
  const names = new Set([...model.queues.keys(), ...model.queueStats.keys()]);
  const rows = Array.from(names).sort().map((name) => {
    const q = model.queues.get(name) || { waiting: new Map() };
    const agents = { available: 0, busy: 0, paused: 0 };
    for (const m of model.members.values()) {
      if (m.queue !== name) continue;
      const s = agentState(m, phones).state;
      if (s === "available") agents.available += 1;
      else if (s === "paused") agents.paused += 1;
      else if (s !== "logged out") agents.busy += 1;
    }
    const oldest = q.waiting.size ? Math.min(...q.waiting.values()) : null;
    return { name, waiting: q.waiting.size, oldest, agents, st: model.queueStats.get(name) };
  });
  setCount(panel, rows.length);
  const waiting = rows.reduce((n, r) => n + r.waiting, 0);
  const hint = panel.querySelector(".waiting-total");
  if (hint) hint.textContent = waiting ? `${fmt.n(waiting)} waiting` : "nobody waiting";
  renderRows(panel.querySelector("tbody"), rows, (r) => r.name, (r) => {
    const st = r.st || {};
    const sl = st.service_level ?? null;
    return [
      { text: r.name, th: true },
      { text: fmt.n(r.waiting), value: r.waiting, cls: r.waiting ? "num warn" : "num" },
      r.oldest === null ? { text: "–", cls: "num" } : { since: r.oldest, cls: "num" },
      { text: fmt.n(r.agents.available), cls: "num" },
      { text: fmt.n(r.agents.busy), cls: "num" },
      { text: fmt.n(r.agents.paused), cls: "num" },
      { text: fmt.n(st.offered ?? 0), value: st.offered ?? 0, cls: "num" },
      { text: fmt.n(st.answered ?? 0), value: st.answered ?? 0, cls: "num" },
      { text: fmt.n(st.abandoned ?? 0), value: st.abandoned ?? 0, cls: "num" },
      { text: sl === null ? "–" : `${fmt.pct(sl)} ≤ ${st.service_level_seconds} s`, value: sl,
        cls: sl !== null && sl < 0.8 ? "num warn" : "num" },
      { text: fmt.sec(st.asa ?? null), value: st.asa, cls: "num" },
      { text: fmt.sec(st.aht ?? null), value: st.aht, cls: "num" },
    ];
  });
}

export function init() {
  onRender("queues", render);
}
