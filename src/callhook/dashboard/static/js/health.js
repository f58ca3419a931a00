// Delivery health per webhook: success rate and p50/p99 latency over the last hour,
// backlog, dead letters, the loss ledger (routed = delivered + pending + in flight +
// dead by reason + expired), the endpoint's circuit breaker (and, when open, when it tries
// again), the last error; per webhook: disable or enable it, "Send now" (its retries
// due now and an open circuit probed now), "Retry all dead". Delivery attempts are not
// events, so this view reads the API when shown, on "Refresh", and every REFRESH_MS
// while visible.

import { api } from "./api.js";
import { fmt, ms, notice, onAction, renderRows, setCount } from "./dom.js";

const REFRESH_MS = 10000;
let timer = null;

function circuit(b) {
  if (b.state !== "open") return { text: b.state, cls: b.state === "closed" ? "" : "bad" };
  const at = ms(b.open_until);
  if (!Number.isFinite(at)) return { text: "open", cls: "bad" };
  const left = Math.max(0, Math.round((at - Date.now()) / 1000));
  return { text: `open: tries again at ${fmt.time(at)} (in ${left} s)`, cls: "bad circuit-open",
    title: `${fmt.n(b.failures)} failures in a row at ${b.endpoint}` };
}

// A disabled webhook: why and when (its last webhook.disabled notice), if callhook disabled it.
function disabledText(w) {
  const n = w.disabled_notice;
  return n ? ` (disabled: ${n.reason}, ${fmt.stamp(ms(n.at))})` : " (disabled)";
}

// The webhook's own limits, and how many deliveries waited for them.
function limits(w) {
  const l = w.limits;
  if (!l) return "";
  const parts = [];
  if (l.concurrency) parts.push(`${fmt.n(l.concurrency)} at once`);
  if (l.per_second) parts.push(`${l.per_second}/s${l.burst ? ` (burst ${fmt.n(l.burst)})` : ""}`);
  return ` · limits: ${parts.join(", ")}; ${fmt.n(w.limited.deferred)} waited for quota`;
}

// The loss ledger: routed = delivered + pending + inflight + dead (by reason) + expired.
function ledger(l) {
  const why = [["gave up", l.dead_gave_up], ["disabled", l.dead_disabled], ["deleted", l.dead_deleted]]
    .filter(([, n]) => n).map(([k, n]) => `${fmt.n(n)} ${k}`).join(", ");
  const text = `${fmt.n(l.routed)} = ${fmt.n(l.delivered)} delivered + ${fmt.n(l.pending)} pending + `
    + `${fmt.n(l.inflight)} in flight + ${fmt.n(l.dead)} dead${why ? ` (${why})` : ""} + ${fmt.n(l.expired)} expired`;
  return { text, value: l.routed, cls: l.dead_gave_up + l.expired ? "ledger bad" : "ledger" };
}

async function load() {
  const rows = await api("/api/v1/delivery-health", { query: { window: 3600 } });
  const panel = document.getElementById("panel-health");
  setCount(panel, rows.length);
  renderRows(panel.querySelector("tbody"), rows, (w) => w.id, (w) => {
    const rateBad = w.success_rate !== null && w.success_rate < 0.95;
    const buttons = [{ label: w.enabled ? "Disable" : "Enable", action: w.enabled ? "disable" : "enable", arg: w.id }];
    if (w.enabled && (w.backlog || w.breaker.state === "open")) {
      buttons.push({ label: "Send now", action: "send-now", arg: w.id });
    }
    if (w.dead) buttons.push({ label: `Retry all ${fmt.n(w.dead)} dead`, action: "retry-dead", arg: w.id });
    return [
      { text: `${w.id} · ${w.dialect} ${w.method} ${w.url}${w.enabled ? "" : disabledText(w)}${limits(w)}`, th: true },
      { text: w.success_rate === null ? "–" : `${fmt.pct(w.success_rate)} of ${fmt.n(w.attempts)}`,
        value: w.success_rate, cls: rateBad ? "num bad" : "num" },
      { text: fmt.ms(w.p50_ms), cls: "num" },
      { text: fmt.ms(w.p99_ms), cls: "num" },
      { text: fmt.n(w.backlog), value: w.backlog, cls: "num" },
      { text: fmt.n(w.dead + w.expired), value: w.dead + w.expired, cls: w.dead + w.expired ? "num bad" : "num" },
      ledger(w.ledger),
      circuit(w.breaker),
      { text: w.last_error ? `${w.last_error} (${fmt.stamp(ms(w.last_error_at))})` : "",
        cls: w.last_error ? "bad" : "" },
      { buttons },
    ];
  }, (w) => (w.enabled ? "" : "muted"));
}

async function act(action, arg, button) {
  button.disabled = true;
  try {
    if (action === "disable" || action === "enable") {
      await api(`/api/v1/webhooks/${encodeURIComponent(arg)}`, { method: "PATCH",
        body: { enabled: action === "enable" } });
    } else if (action === "retry-dead") {
      const r = await api("/api/v1/dead-letters/retry", { method: "POST", query: { subscription_id: arg } });
      notice(`${fmt.n(r.count)} dead deliveries of ${arg} are pending again.`);
    } else if (action === "send-now") {
      const r = await api("/api/v1/deliveries/send-now", { method: "POST", query: { subscription_id: arg } });
      notice(`${fmt.n(r.count)} deliveries of ${arg} are due now${r.breaker_opened ? "; the circuit lets a probe through" : ""}.`);
    }
  } catch (e) {
    notice(`${action}: ${e.message}`, "error");
  }
  await load().catch((e) => notice(`Delivery health: ${e.message}`, "error"));
}

export function show() {
  hide();
  load().catch((e) => notice(`Delivery health: ${e.message}`, "error"));
  timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
}

export function hide() {
  if (timer) clearInterval(timer);
  timer = null;
}

export function init() {
  const panel = document.getElementById("panel-health");
  onAction(panel, act);
  document.getElementById("health-refresh").addEventListener("click", () => load().catch((e) =>
    notice(`Delivery health: ${e.message}`, "error")));
}
