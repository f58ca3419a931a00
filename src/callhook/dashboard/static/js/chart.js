// A bar chart as inline SVG: for each bucket, offered and answered side by side.
// Made with DOM calls (no markup strings, no style attributes: CSP-friendly).
// The drawing is as wide as its container (text is not scaled down on a phone), and
// the axis shows every n-th label so that labels never overlap, whatever their length
// in the browser's locale ("00", "12 AM", "2. 12.").

const NS = "http://www.w3.org/2000/svg";
const FONT_PX = 11;
const LABEL_GAP = 6;

function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// Every n-th label so that the widest fits its slot with a gap (n >= 1).
export function labelStep(labels, slot, measure) {
  const widest = Math.max(0, ...labels.map(measure));
  return Math.max(1, Math.ceil((widest + LABEL_GAP) / Math.max(1, slot)));
}

export function barChart(container, buckets, label) {
  const width = Math.max(280, Math.floor(container.clientWidth || 720));
  const height = 220;
  const pad = { left: 36, right: 8, top: 12, bottom: 40 };
  const max = Math.max(1, ...buckets.map((b) => b.offered));
  const slot = (width - pad.left - pad.right) / Math.max(1, buckets.length);
  const bar = Math.max(1, slot / 2 - 2);
  const y = (v) => pad.top + (height - pad.top - pad.bottom) * (1 - v / max);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label,
    class: "chart-svg" });
  root.append(svg("title", {}, label));
  container.replaceChildren(root);
  const probe = svg("text", { x: 0, y: -100, class: "axis" }, "");
  root.append(probe);
  const measure = (text) => {
    probe.textContent = text;
    const w = probe.getComputedTextLength();
    return w > 0 ? w : text.length * FONT_PX * 0.62;
  };
  const step = labelStep(buckets.map((b) => b.short), slot, measure);
  probe.remove();
  for (const t of [...new Set([0, Math.round(max / 2), max])]) {
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
    if (i % step === 0) {
      root.append(svg("text", { x: x + bar, y: height - pad.bottom + 14, "text-anchor": "middle",
        class: "axis tick" }, b.short));
    }
  });
  const legend = svg("g", { class: "legend" });
  legend.append(svg("rect", { x: pad.left, y: height - 16, width: 10, height: 10, class: "bar-offered" }),
    svg("text", { x: pad.left + 14, y: height - 7, class: "axis" }, "offered"),
    svg("rect", { x: pad.left + 80, y: height - 16, width: 10, height: 10, class: "bar-answered" }),
    svg("text", { x: pad.left + 94, y: height - 7, class: "axis" }, "answered"));
  root.append(legend);
}
