// The wallboard's live model: loaded from the API, then kept current by the SSE stream.
//
// Events are applied to an in-page model as they come; panels are re-rendered at most
// every RENDER_MS (a burst of 500 calls costs one render, not 500). Today's figures
// (queue statistics, agents' answered/missed, the missed calls) are the statistics
// API's own numbers, fetched again -- at most every REFRESH_MS -- when an event may
// have changed them. On (re)connecting, and once a minute, the model is reloaded from
// the API, which also corrects what events do not tell (a call put on hold).

import { api, url } from "./api.js";
import { localMidnight } from "./dom.js";

const RENDER_MS = 300;
const REFRESH_MS = 2000;
const RESYNC_MS = 60000;
const TYPES = ["call.new", "call.ringing", "call.answered", "call.pickup", "call.hangup", "call.ended",
  "call.transfer.attended", "call.transfer.cancelled", "call.transfer.blind", "call.record", "queue.joined",
  "queue.offered", "queue.bridged", "queue.missed", "queue.left", "agent.login", "agent.logout", "agent.paused",
  "agent.unpaused", "agent.wrapup", "call.hold", "call.unhold", "extension.presence"];

export const model = {
  presence: new Map(), // extension -> its phone's presence (idle, ringing, in_use, ...)
  calls: new Map(), // call_id -> call
  members: new Map(), // queue|interface -> agent row
  queues: new Map(), // name -> {name, service_level, waiting: Map call_id -> joined ms}
  queueStats: new Map(), // name -> today's figures (API)
  agentDay: new Map(), // extension -> {answered, missed} (API)
  missed: { numbers: [], done: [], total: 0, offset: 0, queues: [] },
};

export const MISSED_PAGE = 10;
export const missedView = { queue: "", offset: 0 }; // the wallboard's missed-calls filter and page
// the PBXs of the deployment (GET /api/v1/pbxes) and the one the live views show ("" all)
export const pbxView = { names: [], pbx: "" };

const renderers = new Map();
const dirty = new Set();
let timer = null;
let source = null;
let resyncTimer = null;
let buffer = null; // events received while reloading

export function onRender(name, fn) {
  renderers.set(name, fn);
}

export function mark(...names) {
  for (const n of names) dirty.add(n);
  if (timer === null) {
    timer = setTimeout(() => {
      timer = null;
      requestAnimationFrame(() => {
        const names = Array.from(dirty);
        dirty.clear();
        for (const n of names) renderers.get(n)?.(model);
      });
    }, RENDER_MS);
  }
}

function throttled(fn) {
  // At most one run per REFRESH_MS, and never a lost one: a call that comes while a run
  // is in flight (its answer may predate the event that called) runs it once more after.
  let last = 0;
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    running = true;
    last = Date.now();
    try {
      await fn();
    } catch (e) {
      console.warn("refresh failed", e);
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (running) {
      again = true;
      return;
    }
    if (timer) return;
    timer = setTimeout(run, Math.max(0, last + REFRESH_MS - Date.now()));
  };
  return schedule;
}

const today = () => ({ since: localMidnight().toISOString() });

export async function loadQueueStats() {
  const page = await api("/api/v1/queues/stats", { query: today() });
  model.queueStats = new Map(page.queues.map((q) => [q.queue, q]));
  mark("queues");
}

export async function loadAgentDay() {
  const page = await api("/api/v1/agents/stats", { query: today() });
  model.agentDay = new Map(page.agents.map((a) => [a.extension, a]));
  mark("agents");
}

export async function loadMissed() {
  const page = await api("/api/v1/missed-calls", { query: { queue: missedView.queue, limit: MISSED_PAGE,
    offset: missedView.offset } });
  if (page.offset > 0 && page.offset >= page.total) { // the last page emptied: show the one before
    missedView.offset = Math.max(0, Math.floor((page.total - 1) / MISSED_PAGE) * MISSED_PAGE);
    return loadMissed();
  }
  model.missed = page;
  mark("missed");
  return undefined;
}

const refreshQueues = throttled(loadQueueStats);
const refreshAgents = throttled(loadAgentDay);
const refreshMissed = throttled(loadMissed);

// one row per PBX, queue and interface (PJSIP/20 of two PBXs are two phones)
function memberKey(pbx, queue, iface) {
  return `${pbx || ""}|${queue}|${String(iface).toLowerCase()}`;
}

async function reload() {
  const query = pbxView.pbx ? { pbx: pbxView.pbx } : {};
  const [calls, agents, queues, presence] = await Promise.all([api("/api/v1/calls/live", { query }),
    api("/api/v1/agents", { query }), api("/api/v1/queues", { query }),
    api("/api/v1/extensions/presence", { query })]);
  model.presence = new Map(presence.map((x) => [x.extension, x.state]));
  model.calls = new Map(calls.map((c) => {
    const legs = new Map(c.legs.map((l) => [l.channel, { ...l, since: Date.parse(c.start) }]));
    return [c.call_id, { ...c, start: Date.parse(c.start), legs, transferring: c.state === "transferring",
      onHold: c.state === "on hold" }];
  }));
  const members = new Map();
  for (const a of agents) {
    const old = model.members.get(memberKey(a.pbx, a.queue, a.interface));
    members.set(memberKey(a.pbx, a.queue, a.interface), { ...a, name: a.full_name || a.name, since: a.since ? Date.parse(a.since) : (old?.since ??
      Date.now()), loggedOut: false, wrapup: null });
  }
  for (const [k, m] of model.members) if (m.loggedOut && !members.has(k)) members.set(k, m);
  model.members = members;
  model.queues = new Map(); // by name: the queues of two PBXs with one name are one row (as in the statistics)
  for (const q of queues) {
    const row = queueOf(q.name);
    row.service_level = q.service_level;
    for (const w of q.waiting) row.waiting.set(w.call_id, Date.parse(w.joined));
  }
  await Promise.all([loadQueueStats(), loadAgentDay(), loadMissed()]);
  mark("calls", "agents", "queues", "missed");
}

function callOf(ev) {
  const p = ev.party || {};
  let c = model.calls.get(ev.call_id);
  if (!c) {
    c = { call_id: ev.call_id, tenant: ev.tenant, pbx: ev.pbx || "", start: Date.parse(ev.ts), caller_num: "",
      caller_name: "",
      called_num: "", direction: null, queue: "", answered_by: "", legs: new Map(), transferring: false,
      onHold: false };
    model.calls.set(ev.call_id, c);
  }
  for (const f of ["caller_num", "caller_name", "called_num", "direction"]) if (p[f]) c[f] = p[f];
  return c;
}

function legOf(c, leg, ts) {
  const key = leg.channel || leg.leg_id || leg.number;
  let l = c.legs.get(key);
  if (!l) {
    l = { extension: leg.number, name: leg.name, channel: key, external: leg.external, state: "dialling",
      on_hold: false, since: ts };
    c.legs.set(key, l);
  }
  return l;
}

function queueOf(name) {
  let q = model.queues.get(name);
  if (!q) {
    q = { name, service_level: 20, waiting: new Map() };
    model.queues.set(name, q);
  }
  return q;
}

function agentEvent(ev, ts) {
  const a = ev.agent || {};
  const pbx = ev.pbx || "";
  const targets = ev.queue ? [memberKey(pbx, ev.queue, a.interface)]
    : Array.from(model.members.keys()).filter((k) => k.startsWith(`${pbx}|`) &&
      k.endsWith(`|${String(a.interface).toLowerCase()}`));
  for (const key of targets) {
    let m = model.members.get(key);
    if (!m) {
      m = { pbx, queue: ev.queue, interface: a.interface, name: a.name || a.login, extension: a.number, login: a.login,
        tenant: ev.tenant, paused: false, reason: "", since: ts, in_call: false, loggedOut: false, wrapup: null };
      model.members.set(key, m);
    }
    if (ev.type === "agent.login") Object.assign(m, { loggedOut: false, paused: false, reason: "", since: ts });
    else if (ev.type === "agent.logout") Object.assign(m, { loggedOut: true, paused: false, since: ts });
    else if (ev.type === "agent.paused") Object.assign(m, { paused: true, reason: a.pause_reason || "", since: ts });
    else if (ev.type === "agent.unpaused") Object.assign(m, { paused: false, reason: "", since: ts, wrapup: null });
    else if (ev.type === "agent.wrapup") Object.assign(m, { wrapup: ts });
  }
  mark("agents", "queues");
}

export function apply(ev) {
  if (pbxView.pbx && (ev.pbx || "") !== pbxView.pbx) return undefined; // another PBX's (or ingested)
  const ts = Date.parse(ev.ts) || Date.now();
  if (ev.type.startsWith("agent.")) return agentEvent(ev, ts);
  if (ev.type === "extension.presence") {
    if (ev.presence) model.presence.set(ev.presence.number, ev.presence.state);
    return mark("agents");
  }
  if (ev.type === "call.ended") {
    model.calls.delete(ev.call_id);
    for (const q of model.queues.values()) q.waiting.delete(ev.call_id);
    refreshMissed();
    refreshAgents();
    return mark("calls", "agents", "queues");
  }
  if (ev.type === "call.record") return undefined;
  const c = callOf(ev);
  if (ev.type === "call.ringing" && ev.leg) {
    const l = legOf(c, ev.leg, ts);
    if (l.state !== "talking") Object.assign(l, { state: "ringing", since: ts });
  } else if ((ev.type === "call.answered" || ev.type === "call.pickup") && ev.leg) {
    Object.assign(legOf(c, ev.leg, ts), { state: "talking", since: ts });
    if (!ev.leg.external) c.answered_by = ev.leg.number;
    for (const m of model.members.values()) if (m.extension === ev.leg.number) m.wrapup = null;
    refreshAgents();
  } else if (ev.type === "call.hangup" && ev.leg) {
    c.legs.delete(ev.leg.channel || ev.leg.leg_id || ev.leg.number);
  } else if ((ev.type === "call.hold" || ev.type === "call.unhold") && ev.leg) {
    legOf(c, ev.leg, ts).on_hold = ev.type === "call.hold";
    c.onHold = Array.from(c.legs.values()).some((l) => l.on_hold);
  } else if (ev.type === "call.transfer.attended") {
    c.transferring = true;
  } else if (ev.type === "call.transfer.cancelled" || ev.type === "call.transfer.blind") {
    c.transferring = false;
  } else if (ev.type === "queue.joined") {
    c.queue = ev.queue;
    queueOf(ev.queue).waiting.set(ev.call_id, ts);
  } else if (ev.type === "queue.bridged" || ev.type === "queue.left") {
    queueOf(ev.queue).waiting.delete(ev.call_id);
    if (ev.type === "queue.left") c.queue = "";
  }
  if (ev.type.startsWith("queue.")) refreshQueues();
  return mark("calls", "agents", "queues");
}

function onMessage(e) {
  let ev;
  try {
    ev = JSON.parse(e.data);
  } catch {
    return;
  }
  if (buffer !== null) buffer.push(ev);
  else apply(ev);
}

let again = false; // a reload was asked for while one ran (e.g. another PBX chosen)

async function resync() {
  if (buffer !== null) { // one reload at a time; the one asked for meanwhile follows
    again = true;
    return;
  }
  buffer = [];
  try {
    await reload();
    for (const ev of buffer) apply(ev);
  } finally {
    buffer = null;
  }
  if (again) {
    again = false;
    await resync();
  }
}

// Show one PBX (or all, ""): the model is loaded again for it; the stream's events of
// the other PBXs are skipped from now on.
export function showPbx(name) {
  pbxView.pbx = name;
  model.calls = new Map();
  model.members = new Map();
  model.queues = new Map();
  model.presence = new Map();
  mark("calls", "agents", "queues");
  return resync();
}

export async function loadPbxes() {
  const listed = await api("/api/v1/pbxes");
  pbxView.names = listed.map((p) => p.name);
  if (pbxView.pbx && !pbxView.names.includes(pbxView.pbx)) pbxView.pbx = "";
  return pbxView.names;
}

export function start(onState) {
  stop();
  source = new EventSource(url("/api/v1/stream", {}, true));
  for (const t of TYPES) source.addEventListener(t, onMessage);
  source.addEventListener("open", () => {
    onState("live");
    resync().catch((e) => console.warn("reload failed", e));
  });
  source.addEventListener("error", () => onState(source && source.readyState === EventSource.CLOSED ? "offline"
    : "reconnecting"));
  resyncTimer = setInterval(() => resync().catch((e) => console.warn("reload failed", e)), RESYNC_MS);
}

export function stop() {
  if (source) source.close();
  source = null;
  if (resyncTimer) clearInterval(resyncTimer);
  resyncTimer = null;
}
