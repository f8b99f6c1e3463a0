// Small SVG charts without a library (nothing may come from a CDN). Every chart also offers its numbers as a table.
import { el } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
// Distinguishable for common colour-vision deficiencies, each ≥ 3:1 against white.
export const PALETTE = ["#0b5cad", "#c0392b", "#1d6b36", "#7b2d8e", "#8a4b00", "#00707a", "#5c5c5c", "#b0306d", "#2f4f8f", "#6b6b00"];

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) if (child) node.append(child);
  return node;
}

function text(x, y, content, anchor = "middle", extra = {}) {
  const node = svg("text", { x, y, "text-anchor": anchor, ...extra });
  node.textContent = content;
  return node;
}

// The axis top: four equal steps of 1, 2, 2.5 or 5 times a power of ten, so every tick reads as a round number.
function niceMax(value) {
  if (!(value > 0)) return 1;
  const rough = value / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= rough) return 4 * step * magnitude;
  return 40 * magnitude;
}

function legend(names) {
  return el("ul", { class: "legend" },
    names.map((name, i) => {
      const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
      // A style property, not a style attribute: the page's content security policy refuses inline styles.
      swatch.style.backgroundColor = PALETTE[i % PALETTE.length];
      return el("li", {}, swatch, name);
    }),
  );
}

function dataTable(caption, header, rows) {
  return el("details", { class: "data" },
    el("summary", {}, "Show the numbers"),
    el("div", { class: "table-wrap" },
      el("table", {},
        el("caption", { class: "visually-hidden" }, caption),
        el("thead", {}, el("tr", {}, header.map((h, i) => el("th", { scope: "col", class: i ? "num" : "" }, h)))),
        el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell, i) => (i ? el("td", { class: "num" }, cell) : el("th", { scope: "row" }, cell)))))),
      ),
    ),
  );
}

// series: [{name, values: [number|null per x]}]; x: labels. format(y) labels the axis and the table.
export function lineChart(figure, { title, x, series, format, summary }) {
  const width = 560, height = 250, left = 56, right = 14, top = 12, bottom = 34;
  const plotW = width - left - right, plotH = height - top - bottom;
  const values = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const max = niceMax(Math.max(0, ...values));
  const xAt = (i) => left + (x.length <= 1 ? plotW / 2 : (i * plotW) / (x.length - 1));
  const yAt = (v) => top + plotH - (v / max) * plotH;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}. ${summary || ""}` });
  for (let tick = 0; tick <= 4; tick++) {
    const value = (max * tick) / 4;
    chart.append(svg("line", { x1: left, x2: width - right, y1: yAt(value), y2: yAt(value), stroke: "#e1e5ea" }));
    chart.append(text(left - 6, yAt(value) + 4, format(value), "end"));
  }
  const every = Math.max(1, Math.ceil(x.length / 5));
  x.forEach((label, i) => {
    const last = x.length - 1;
    // Every few labels, the last always, and none crowding it.
    if (i !== last && (i % every !== 0 || last - i < every / 2)) return;
    const anchor = last > 0 && i === 0 ? "start" : last > 0 && i === last ? "end" : "middle";
    chart.append(text(xAt(i), height - bottom + 16, label, anchor));
  });
  series.forEach((s, index) => {
    const colour = PALETTE[index % PALETTE.length];
    let path = "";
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      path += `${path && s.values[i - 1] !== null && s.values[i - 1] !== undefined ? "L" : "M"}${xAt(i).toFixed(1)},${yAt(v).toFixed(1)}`;
    });
    const group = svg("g", { "data-series": s.name });
    group.append(svg("path", { d: path, fill: "none", stroke: colour, "stroke-width": 2 }));
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const dot = svg("circle", { cx: xAt(i), cy: yAt(v), r: 3, fill: colour });
      const tip = svg("title");
      tip.textContent = `${s.name}, ${x[i]}: ${format(v)}`;
      dot.append(tip);
      group.append(dot);
    });
    chart.append(group);
  });
  figure.replaceChildren(
    el("figcaption", {}, title),
    el("div", { class: "chart" }, chart),
    legend(series.map((s) => s.name)),
    dataTable(title, ["", ...series.map((s) => s.name)], x.map((label, i) => [label, ...series.map((s) => (s.values[i] === null || s.values[i] === undefined ? "–" : format(s.values[i])))])),
  );
}

// One horizontal bar per group, split into buckets (a histogram per group); shares, so groups of any size compare.
export function bucketChart(figure, { title, buckets, groups, summary }) {
  const width = 560, rowH = 26, left = 150, right = 12, top = 8;
  const height = top + groups.length * rowH + 8;
  const plotW = width - left - right;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${Math.max(height, 40)}`, role: "img", "aria-label": `${title}. ${summary || ""}` });
  groups.forEach((group, row) => {
    const y = top + row * rowH;
    chart.append(text(left - 6, y + 16, group.name.length > 22 ? group.name.slice(0, 21) + "…" : group.name, "end"));
    let x = left;
    group.counts.forEach((count, b) => {
      if (!group.total || !count) return;
      const w = (count / group.total) * plotW;
      const bar = svg("rect", { x, y: y + 3, width: Math.max(w, 0.5), height: rowH - 8, fill: PALETTE[b % PALETTE.length] });
      const tip = svg("title");
      tip.textContent = `${group.name}, ${buckets[b]}: ${count} of ${group.total} (${((100 * count) / group.total).toFixed(0)} %)`;
      bar.append(tip);
      chart.append(bar);
      x += w;
    });
  });
  figure.replaceChildren(
    el("figcaption", {}, title),
    el("div", { class: "chart" }, chart),
    legend(buckets),
    dataTable(title, ["", ...buckets, "tickets"], groups.map((g) => [g.name, ...g.counts.map(String), String(g.total)])),
  );
}
