import { api, el, explain, hours, percent, requireSignIn, toast } from "./common.js";
import { bucketChart, lineChart } from "./charts.js";

await requireSignIn();

const $ = (id) => document.getElementById(id);
const DAY = 86_400_000;
const isoDate = (date) => date.toISOString().slice(0, 10);

const today = new Date();
$("kpi-to").value = isoDate(today);
$("kpi-from").value = isoDate(new Date(today.getTime() - 55 * DAY));
const url = new URLSearchParams(location.search);
for (const [field, id] of [["from", "kpi-from"], ["to", "kpi-to"], ["group_by", "kpi-group"]]) {
  if (url.get(field)) $(id).value = url.get(field);
}
if (url.get("hours") === "calendar") document.querySelector('input[name="kpi-hours"][value="calendar"]').checked = true;

function choices() {
  const from = $("kpi-from").value;
  const to = $("kpi-to").value;
  const group = $("kpi-group").value;
  const kind = document.querySelector('input[name="kpi-hours"]:checked').value;
  const start = new Date(from + "T00:00:00Z");
  const end = new Date(new Date(to + "T00:00:00Z").getTime() + DAY); // "to" is inclusive on the page
  const step = end - start <= 35 * DAY ? "day" : "week";
  return { from, to, group, kind, step, period: { from: start.toISOString(), to: end.toISOString() } };
}

const kpis = (params) => api("/v1/kpis?" + new URLSearchParams(params));

async function show() {
  const c = choices();
  if (!c.from || !c.to || c.from > c.to) {
    $("kpi-status").textContent = "Pick a start date on or before the end date.";
    return;
  }
  history.replaceState(null, "", "?" + new URLSearchParams({ from: c.from, to: c.to, group_by: c.group, hours: c.kind }));
  $("kpi-status").textContent = "Loading…";
  const hoursKey = `${c.kind}_hours`;
  const [overall, perStep, trend, perGroup, frtBuckets, resolutionBuckets] = await Promise.all([
    kpis({ ...c.period, group_by: "all" }),
    kpis({ ...c.period, group_by: c.step }),
    kpis({ ...c.period, group_by: `${c.step},${c.group}` }),
    kpis({ ...c.period, group_by: c.group }),
    api("/v1/kpis/distribution?" + new URLSearchParams({ ...c.period, group_by: c.group, metric: "frt", hours: c.kind })),
    api("/v1/kpis/distribution?" + new URLSearchParams({ ...c.period, group_by: c.group, metric: "full_resolution", hours: c.kind })),
  ]);
  renderTiles(overall.groups[0], hoursKey, c.kind);

  const steps = perStep.groups.map((g) => g.keys[c.step]).filter(Boolean).sort();
  const stepName = c.step === "day" ? "day" : "week (from Monday)";
  const byStep = new Map(perStep.groups.map((g) => [g.keys[c.step], g]));
  lineChart($("chart-volume"), {
    title: `Tickets created and solved per ${stepName}`,
    x: steps,
    series: [
      { name: "created", values: steps.map((s) => byStep.get(s)?.tickets_created ?? 0) },
      { name: "solved", values: steps.map((s) => byStep.get(s)?.tickets_solved ?? 0) },
    ],
    format: (v) => String(Math.round(v)),
  });
  const groups = [...new Set(trend.groups.map((g) => g.keys[c.group] ?? "(none)"))].sort();
  const cell = new Map(trend.groups.map((g) => [`${g.keys[c.step]}|${g.keys[c.group] ?? "(none)"}`, g]));
  const seriesOf = (pick) => groups.map((name) => ({ name, values: steps.map((s) => { const g = cell.get(`${s}|${name}`); return g ? pick(g) : null; }) }));
  const hoursLabel = c.kind === "business" ? "business hours" : "calendar hours";
  lineChart($("chart-frt"), {
    title: `First response time, median (${hoursLabel}), per ${stepName} and ${c.group}`,
    x: steps, series: seriesOf((g) => g.frt[hoursKey].median), format: hours,
  });
  lineChart($("chart-first-resolution"), {
    title: `First resolution time, median (${hoursLabel}), per ${stepName} and ${c.group}`,
    x: steps, series: seriesOf((g) => g.first_resolution[hoursKey].median), format: hours,
  });
  lineChart($("chart-resolution"), {
    title: `Full resolution time, median (${hoursLabel}), per ${stepName} and ${c.group}`,
    x: steps, series: seriesOf((g) => g.full_resolution[hoursKey].median), format: hours,
  });
  lineChart($("chart-fcr"), {
    title: `First contact resolution rate per ${stepName} and ${c.group}`,
    x: steps, series: seriesOf((g) => g.fcr_rate), format: (v) => `${Math.round(v * 100)} %`,
  });
  const buckets = (report) => report.groups.map((g) => ({ name: String(g.group ?? "(none)"), counts: g.counts, total: g.total }));
  bucketChart($("chart-frt-distribution"), {
    title: `How long customers waited for a first reply (${hoursLabel}), share of tickets per ${c.group}`,
    buckets: frtBuckets.buckets, groups: buckets(frtBuckets),
  });
  bucketChart($("chart-resolution-distribution"), {
    title: `How long full resolution took (${hoursLabel}), share of tickets per ${c.group}`,
    buckets: resolutionBuckets.buckets, groups: buckets(resolutionBuckets),
  });
  renderTable(perGroup.groups, hoursKey, c.group);
  $("kpi-status").textContent = `${c.from} to ${c.to}, as of ${new Date(overall.as_of).toLocaleString()}.`;
}

function renderTiles(all, hoursKey, kind) {
  const tile = (label, value, id) => el("div", { class: "tile", "data-kpi": id }, el("span", { class: "value" }, value), el("span", { class: "label" }, label));
  const g = all || { tickets_created: 0, tickets_solved: 0, frt: { [hoursKey]: {} }, full_resolution: { [hoursKey]: {} } };
  $("tiles").replaceChildren(
    tile("tickets created", String(g.tickets_created), "created"),
    tile("tickets solved", String(g.tickets_solved), "solved"),
    tile(`first response, median (${kind})`, hours(g.frt[hoursKey].median), "frt"),
    tile(`full resolution, median (${kind})`, hours(g.full_resolution[hoursKey].median), "resolution"),
    tile("first contact resolution", percent(g.fcr_rate), "fcr"),
    tile("awaiting a first reply", String(g.awaiting_first_reply ?? 0), "awaiting"),
  );
}

function renderTable(groups, hoursKey, dimension) {
  const header = [dimension, "created", "solved", "FRT median", "FRT p90", "first resolution median", "full resolution median", "full resolution p90", "FCR", "reopened", "transferred", "awaiting reply"];
  const rows = groups.map((g) => [
    String(g.group ?? "(none)"), String(g.tickets_created), String(g.tickets_solved),
    hours(g.frt[hoursKey].median), hours(g.frt[hoursKey].p90),
    hours(g.first_resolution[hoursKey].median), hours(g.full_resolution[hoursKey].median), hours(g.full_resolution[hoursKey].p90),
    percent(g.fcr_rate), percent(g.reopen_rate), percent(g.transfer_rate), String(g.awaiting_first_reply),
  ]);
  $("kpi-table").replaceChildren(
    el("table", {},
      el("thead", {}, el("tr", {}, header.map((h, i) => el("th", { scope: "col", class: i ? "num" : "" }, h)))),
      el("tbody", {}, rows.map((row) => el("tr", {}, row.map((v, i) => (i ? el("td", { class: "num" }, v) : el("th", { scope: "row" }, v)))))),
    ),
  );
}

async function downloadCsv() {
  const c = choices();
  const response = await api("/v1/kpis?" + new URLSearchParams({ ...c.period, group_by: c.group, format: "csv" }), { raw: true });
  const link = el("a", { href: URL.createObjectURL(await response.blob()), download: `kpis-${c.group}-${c.from}-${c.to}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

$("kpi-form").addEventListener("submit", (event) => {
  event.preventDefault();
  show().catch((error) => { $("kpi-status").textContent = explain(error); });
});
for (const radio of document.querySelectorAll('input[name="kpi-hours"]')) {
  radio.addEventListener("change", () => show().catch((error) => toast(explain(error), true)));
}
$("kpi-group").addEventListener("change", () => show().catch((error) => toast(explain(error), true)));
$("kpi-csv").addEventListener("click", () => downloadCsv().catch((error) => toast(explain(error), true)));
show().catch((error) => { $("kpi-status").textContent = explain(error); });
