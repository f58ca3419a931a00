// Calls in progress: caller, called, the agent (or the queue it waits in), state, live duration.

import { model, onRender, pbxView } from "./live.js";
import { renderRows, setCount } from "./dom.js";

export function callState(c) {
  const legs = Array.from(c.legs.values()).filter((l) => !l.external || l.state !== "dialling");
  if (c.transferring) return "transferring";
  if (c.onHold || legs.some((l) => l.on_hold)) return "on hold";
  if (legs.some((l) => l.state === "talking")) return "talking";
  if (legs.some((l) => l.state === "ringing")) return "ringing";
  if (c.queue) return "queued";
  return "dialling";
}

// extension -> {state: "talking" | "ringing", since} from the live calls (the agents' view)
export function phoneStates() {
  const out = new Map();
  for (const c of model.calls.values()) {
    for (const l of c.legs.values()) {
      if (l.external || !l.extension || (l.state !== "talking" && l.state !== "ringing")) continue;
      const had = out.get(l.extension);
      if (!had || (had.state === "ringing" && l.state === "talking")) out.set(l.extension, { state: l.state,
        since: l.since });
    }
  }
  return out;
}

function who(c) {
  const legs = Array.from(c.legs.values()).filter((l) => !l.external && l.extension);
  const talking = legs.filter((l) => l.state === "talking");
  const shown = talking.length ? talking : legs;
  const names = shown.map((l) => (l.name ? `${l.name} (${l.extension})` : l.extension));
  if (c.queue && !talking.length) names.unshift(`queue ${c.queue}`);
  return names.join(", ") || (c.queue ? `queue ${c.queue}` : "");
}

function render() {
  const panel = document.getElementById("panel-calls");
  const calls = Array.from(model.calls.values()).sort((a, b) => a.start - b.start);
  setCount(panel, calls.length);
  renderRows(panel.querySelector("tbody"), calls, (c) => c.call_id, (c) => {
    const state = callState(c);
    return [
      { text: c.caller_name && c.caller_name !== c.caller_num ? `${c.caller_name} ${c.caller_num}` : c.caller_num,
        href: `#/call/${encodeURIComponent(c.call_id)}`, th: true },
      pbxView.names.length > 1 && c.pbx ? `${c.called_num} · ${c.pbx}` : c.called_num,
      who(c),
      { text: state, cls: `state state-${state.replace(" ", "-")}` },
      { since: c.start },
    ];
  }, (c) => `call-row`);
}

export function init() {
  onRender("calls", render);
}
