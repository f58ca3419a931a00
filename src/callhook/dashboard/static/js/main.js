// The dashboard's entry: sign-in and sign-out, the views (#/wallboard, #/calls,
// #/call/<id>, #/health, #/stats), and starting the live model.

import { session, setCsrf, signIn, signOut } from "./api.js";
import * as live from "./live.js";
import * as calls from "./calls.js";
import * as agents from "./agents.js";
import * as queues from "./queues.js";
import * as missed from "./missed.js";
import * as trace from "./trace.js";
import * as health from "./health.js";
import * as stats from "./stats.js";
import { notice, startTicker } from "./dom.js";

const VIEWS = ["signin", "wallboard", "calls", "health", "stats"];
let signedIn = false;

function showView(name) {
  for (const v of VIEWS) document.getElementById(`view-${v}`).hidden = v !== name;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (name !== "health") health.hide();
}

function route() {
  if (!signedIn) return showView("signin");
  notice(""); // a message belongs to the view it came from
  const hash = window.location.hash.replace(/^#\/?/, "");
  const [path, qs] = hash.split("?");
  const params = new URLSearchParams(qs || "");
  if (path.startsWith("call/")) {
    showView("calls");
    return trace.showTrace(decodeURIComponent(path.slice(5)));
  }
  if (path === "calls") {
    showView("calls");
    return trace.showSearch(params);
  }
  if (path === "health") {
    showView("health");
    return health.show();
  }
  if (path === "stats") {
    showView("stats");
    return stats.show();
  }
  return showView("wallboard");
}

function setLiveState(state) {
  const badge = document.getElementById("live-state");
  badge.textContent = state;
  badge.className = `badge live-${state}`;
  if (state === "offline") checkSession();
}

function start(s) {
  signedIn = true;
  setCsrf(s.csrf);
  const who = s.name || (s.admin ? "admin" : `tenant ${s.tenant}`);
  document.getElementById("who-name").textContent = s.admin ? who : `${who} · tenant ${s.tenant}`;
  document.getElementById("nav").hidden = false;
  document.getElementById("who").hidden = false;
  notice("");
  live.start(setLiveState);
  showPbxPicker().catch((e) => console.warn("PBX list failed", e));
  route();
}

// The PBX filter: offered only when the deployment reads more than one PBX.
async function showPbxPicker() {
  const names = await live.loadPbxes();
  const select = document.getElementById("pbx-filter");
  select.replaceChildren(new Option("all PBXs", ""), ...names.map((n) => new Option(n, n)));
  select.value = live.pbxView.pbx;
  document.getElementById("pbx-pick").hidden = names.length < 2;
}

function stop(message = "") {
  signedIn = false;
  live.stop();
  health.hide();
  setCsrf("");
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  notice(message, message ? "error" : "info");
  showView("signin");
  document.getElementById("signin-token").focus();
}

async function checkSession() {
  const s = await session().catch(() => ({ signed_in: false }));
  if (!s.signed_in && signedIn) stop("Your session has ended. Please sign in again.");
}

function wire() {
  const form = document.getElementById("signin-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = document.getElementById("signin-error");
    err.textContent = "";
    const token = form.elements.token.value.trim();
    try {
      const s = await signIn(token, form.elements.name.value.trim());
      form.elements.token.value = "";
      start(s);
    } catch (ex) {
      err.textContent = ex.status === 401 ? "This token is not valid here." : `Sign-in failed: ${ex.message}`;
    }
  });
  document.getElementById("signout").addEventListener("click", async () => {
    await signOut();
    stop();
  });
  document.addEventListener("callhook:signedout", () => checkSession());
  document.getElementById("pbx-filter").addEventListener("change", (e) => {
    live.showPbx(e.target.value).catch((ex) => console.warn("reload failed", ex));
  });
  window.addEventListener("hashchange", route);
  for (const m of [calls, agents, queues, missed, trace, health, stats]) m.init();
  startTicker();
}

async function boot() {
  wire();
  const s = await session().catch(() => ({ signed_in: false }));
  if (s.signed_in) start(s);
  else stop();
}

boot();
