// Missed calls to call back: the statistics API's list (incoming calls no person
// answered, by caller number, until an answered call with the number clears them),
// and "Done" to mark one handled by hand (who and when are stored on the hub).

import { api } from "./api.js";
import { loadMissed, model, onRender } from "./live.js";
import { el, fmt, notice, onAction, renderRows, setCount } from "./dom.js";

function render() {
  const panel = document.getElementById("panel-missed");
  const { numbers = [], done = [] } = model.missed || {};
  setCount(panel, numbers.length);
  renderRows(panel.querySelector("tbody"), numbers, (m) => `${m.tenant}|${m.number}`, (m) => [
    { text: m.number, th: true, href: `#/calls?number=${encodeURIComponent(m.number)}` },
    { text: fmt.n(m.count), value: m.count, cls: "num" },
    { text: fmt.stamp(m.last), title: `first: ${fmt.stamp(m.first)}` },
    m.queue,
    { button: { label: "Done", action: "done", arg: `${m.tenant}|${m.number}` } },
  ], () => "missed-row");
  const list = document.getElementById("missed-done");
  list.replaceChildren(...done.slice(0, 10).map((d) => el("li", {}, `${d.number}: done by ${d.by}, `,
    el("time", { datetime: d.at }, fmt.stamp(d.at)))));
}

export function init() {
  onRender("missed", render);
  onAction(document.getElementById("panel-missed"), async (action, arg, button) => {
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
}
