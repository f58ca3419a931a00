// Missed calls to call back: the statistics API's list (incoming calls no person
// answered, by caller number, until an answered call with the number clears them),
// MISSED_PAGE numbers a page, filtered by the queue the calls waited in, and "Done" to
// mark one handled by hand (who and when are stored on the hub).

import { api } from "./api.js";
import { MISSED_PAGE, loadMissed, missedView, model, onRender } from "./live.js";
import { el, fmt, notice, onAction, renderRows, setCount } from "./dom.js";

function render() {
  const panel = document.getElementById("panel-missed");
  const { numbers = [], done = [], total = 0, offset = 0, queues = [] } = model.missed || {};
  setCount(panel, total);
  renderRows(panel.querySelector("tbody"), numbers, (m) => `${m.tenant}|${m.number}`, (m) => [
    { text: m.number, th: true, href: `#/calls?number=${encodeURIComponent(m.number)}` },
    { text: fmt.n(m.count), value: m.count, cls: "num" },
    { text: fmt.stamp(m.last), title: `first: ${fmt.stamp(m.first)}` },
    m.queue || "–",
    { button: { label: "Done", action: "done", arg: `${m.tenant}|${m.number}` } },
  ], () => "missed-row");
  const select = document.getElementById("missed-queue");
  const options = ["", ...new Set([...queues, ...(missedView.queue ? [missedView.queue] : [])])];
  if (select.dataset.options !== options.join("\u0000")) {
    select.dataset.options = options.join("\u0000");
    select.replaceChildren(...options.map((q) => el("option", { value: q }, q || "all queues")));
  }
  select.value = missedView.queue;
  const last = Math.min(total, offset + numbers.length);
  document.getElementById("missed-range").textContent = total ? `${fmt.n(offset + 1)}–${fmt.n(last)} of ${fmt.n(total)}`
    : "none";
  document.getElementById("missed-prev").disabled = offset === 0;
  document.getElementById("missed-next").disabled = offset + MISSED_PAGE >= total;
  const list = document.getElementById("missed-done");
  list.replaceChildren(...done.slice(0, 10).map((d) => el("li", {}, `${d.number}: done by ${d.by}, `,
    el("time", { datetime: d.at }, fmt.stamp(d.at)))));
}

function reload() {
  loadMissed().catch((e) => notice(`Missed calls: ${e.message}`, "error"));
}

export function init() {
  onRender("missed", render);
  const panel = document.getElementById("panel-missed");
  onAction(panel, async (action, arg, button) => {
    if (action !== "done") return;
    const [tenant, number] = arg.split("|");
    button.disabled = true;
    try {
      await api(`/api/v1/missed-calls/${encodeURIComponent(number)}/done`, { method: "POST", body: { tenant } });
      await loadMissed();
    } catch (e) {
      notice(`Could not mark ${number} done: ${e.message}`, "error");
      button.disabled = false;
    }
  });
  document.getElementById("missed-queue").addEventListener("change", (e) => {
    missedView.queue = e.target.value;
    missedView.offset = 0;
    reload();
  });
  document.getElementById("missed-prev").addEventListener("click", () => {
    missedView.offset = Math.max(0, missedView.offset - MISSED_PAGE);
    reload();
  });
  document.getElementById("missed-next").addEventListener("click", () => {
    missedView.offset += MISSED_PAGE;
    reload();
  });
}
