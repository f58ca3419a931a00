// A bar chart as inline SVG: for each bucket, offered and answered side by side.
// Made with DOM calls (no markup strings, no style attributes: CSP-friendly).

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export function barChart(container, buckets, label) {
  const width = 720;
  const height = 220;
  const pad = { left: 36, right: 8, top: 12, bottom: 40 };
  const max = Math.max(1, ...buckets.map((b) => b.offered));
  const slot = (width - pad.left - pad.right) / Math.max(1, buckets.length);
  const bar = Math.max(1, slot / 2 - 2);
  const y = (v) => pad.top + (height - pad.top - pad.bottom) * (1 - v / max);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label,
    class: "chart-svg" });
  root.append(svg("title", {}, label));
  for (const t of [0, Math.round(max / 2), max]) {
    root.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(t), y2: y(t), class: "grid" }));
    root.append(svg("text", { x: pad.left - 4, y: y(t) + 4, "text-anchor": "end", class: "axis" }, String(t)));
  }
  buckets.forEach((b, i) => {
    const x = pad.left + i * slot + 1;
    for (const [k, cls, dx] of [["offered", "bar-offered", 0], ["answered", "bar-answered", bar]]) {
      const r = svg("rect", { x: x + dx, y: y(b[k]), width: bar, height: Math.max(0, y(0) - y(b[k])), class: cls });
      r.append(svg("title", {}, `${b.label}: ${k} ${b[k]}`));
      root.append(r);
    }
    if (buckets.length <= 31 || i % Math.ceil(buckets.length / 24) === 0) {
      root.append(svg("text", { x: x + bar, y: height - pad.bottom + 14, "text-anchor": "middle", class: "axis" },
        b.short));
    }
  });
  const legend = svg("g", { class: "legend" });
  legend.append(svg("rect", { x: pad.left, y: height - 16, width: 10, height: 10, class: "bar-offered" }),
    svg("text", { x: pad.left + 14, y: height - 7, class: "axis" }, "offered"),
    svg("rect", { x: pad.left + 80, y: height - 16, width: 10, height: 10, class: "bar-answered" }),
    svg("text", { x: pad.left + 94, y: height - 7, class: "axis" }, "answered"));
  root.append(legend);
  container.replaceChildren(root);
}
