import { api, el, explain, percent, requireSignIn, toast } from "./common.js";
import { lineChart } from "./charts.js";

await requireSignIn();

const $ = (id) => document.getElementById(id);
const DAY = 86_400_000;
const isoDate = (date) => date.toISOString().slice(0, 10);
const SCORE_NAMES = { csat: "CSAT", ces: "CES", nps: "NPS" };

const today = new Date();
$("insights-to").value = isoDate(today);
$("insights-from").value = isoDate(new Date(today.getTime() - 55 * DAY));
const url = new URLSearchParams(location.search);
for (const [field, id] of [["from", "insights-from"], ["to", "insights-to"], ["target", "insights-target"]]) {
  if (url.get(field)) $(id).value = url.get(field);
}

function choices() {
  const from = $("insights-from").value;
  const to = $("insights-to").value;
  const target = $("insights-target").value;
  const start = new Date(from + "T00:00:00Z");
  const end = new Date(new Date(to + "T00:00:00Z").getTime() + DAY); // "to" is inclusive on the page
  return { from, to, target, period: { from: start.toISOString(), to: end.toISOString() } };
}

const query = (path, params) => api(path + "?" + new URLSearchParams(params));
// As the API's sentences: small per-hour effects get a third decimal.
const points = (value, effect) => value.toFixed(Math.abs(effect) >= 0.095 ? 2 : 3);
const number = (value, digits = 1) => (value === null || value === undefined ? "–" : value.toFixed(digits));

async function show() {
  const c = choices();
  if (!c.from || !c.to || c.from > c.to) {
    $("insights-status").textContent = "Pick a start date on or before the end date.";
    return;
  }
  history.replaceState(null, "", "?" + new URLSearchParams({ from: c.from, to: c.to, target: c.target }));
  $("insights-status").textContent = "Loading…";
  const [overall, weekly, deflection] = await Promise.all([
    query("/v1/kpis", { ...c.period, group_by: "all" }),
    query("/v1/kpis", { ...c.period, group_by: "week" }),
    query("/v1/insights/deflection", { ...c.period, group_by: "week" }),
  ]);
  renderTiles(overall.groups[0], deflection.total);
  const weeks = weekly.groups.map((g) => g.keys.week).filter(Boolean).sort();
  const byWeek = new Map(weekly.groups.map((g) => [g.keys.week, g]));
  lineChart($("chart-csat"), {
    title: "CSAT: share of answers 4 or 5, per week (from Monday)",
    x: weeks,
    series: [{ name: "CSAT", values: weeks.map((w) => byWeek.get(w)?.csat_rate ?? null) }],
    format: (v) => `${Math.round(v * 100)} %`,
  });
  const searchWeeks = deflection.groups.map((g) => g.period).sort();
  const byPeriod = new Map(deflection.groups.map((g) => [g.period, g]));
  lineChart($("chart-deflection"), {
    title: `Deflection: portal searches with no ticket from the customer within ${deflection.window_hours} h, per week`,
    x: searchWeeks,
    series: [{ name: "deflected", values: searchWeeks.map((w) => byPeriod.get(w)?.deflection_rate ?? null) }],
    format: (v) => `${Math.round(v * 100)} %`,
  });
  $("insights-status").textContent = `${c.from} to ${c.to}.`;
  await Promise.all([showDrivers(c), showGaps(c)]);
}

function renderTiles(all, searches) {
  const tile = (label, value, id) => el("div", { class: "tile", "data-kpi": id }, el("span", { class: "value" }, value), el("span", { class: "label" }, label));
  const g = all || {};
  $("insight-tiles").replaceChildren(
    tile(`CSAT (share of 4–5, ${g.csat_responses ?? 0} answers)`, percent(g.csat_rate), "csat"),
    tile(`CES (mean of 1–7, ${g.ces_responses ?? 0} answers)`, number(g.ces_mean), "ces"),
    tile(`NPS (${g.nps_responses ?? 0} answers)`, number(g.nps, 0), "nps"),
    tile(`deflected portal searches (${searches.judged} judged)`, percent(searches.deflection_rate), "deflection"),
    tile("portal searches", String(searches.searches), "searches"),
  );
}

async function showDrivers(c) {
  const name = SCORE_NAMES[c.target];
  try {
    const report = await query("/v1/insights/drivers", { ...c.period, target: c.target });
    const rows = report.drivers.map((d) =>
      el("tr", { "data-driver": d.term },
        el("td", { class: "num" }, String(d.rank)),
        el("th", { scope: "row" }, d.summary),
        el("td", { class: "num" }, `${d.effect > 0 ? "+" : ""}${points(d.effect, d.effect)}`),
        el("td", { class: "num" }, `${points(d.ci_low, d.effect)} to ${points(d.ci_high, d.effect)}`),
        el("td", {}, d.significant ? "yes" : "no"),
      ),
    );
    $("drivers").replaceChildren(
      el("p", { class: "meta" }, `${report.responses_used} ${name} answers (mean ${report.mean_score.toFixed(2)}); ${report.method}.`),
      el("table", {},
        el("thead", {}, el("tr", {}, ["rank", "driver", "effect (points)", "95% interval", "clear effect"].map((h, i) => el("th", { scope: "col", class: i === 0 || i === 2 || i === 3 ? "num" : "" }, h)))),
        el("tbody", {}, rows),
      ),
    );
  } catch (error) {
    // Too few answers is an expected state of a young desk, not a failure: say what is missing.
    $("drivers").replaceChildren(el("p", { class: error.code === "too_few_responses" ? "meta" : "error" }, explain(error)));
  }
}

async function showGaps(c) {
  $("gaps-status").textContent = "Grouping the period's tickets by topic…";
  $("gaps").replaceChildren();
  try {
    const report = await query("/v1/insights/self-service-gaps", { ...c.period, top: "15" });
    $("gaps-status").textContent = `${report.tickets} tickets in ${report.clusters_found} topics, ${report.faq_entries} published FAQ entries; the ${report.clusters.length} least covered by volume:`;
    const rows = report.clusters.map((cluster) => {
      return el("tr", { "data-rank": cluster.rank },
        el("td", { class: "num" }, String(cluster.rank)),
        el("th", { scope: "row" },
          el("span", {}, cluster.terms.join(", ") || "(no distinctive words)"),
          cluster.beside_rank ? el("span", { class: "meta" }, ` (nearest to topic ${cluster.beside_rank}, ranked lower for it)`) : null,
          el("details", { class: "data" },
            el("summary", {}, `${cluster.examples.length} typical ticket${cluster.examples.length === 1 ? "" : "s"}`),
            el("ul", {}, cluster.examples.map((example) =>
              el("li", {}, el("a", { href: `/console/agent?ticket=${example.ticket_id}` }, example.text)))),
          ),
        ),
        el("td", { class: "num" }, `${cluster.size} (${percent(cluster.share)})`),
        el("td", {}, cluster.department || "–"),
        el("td", {}, cluster.language || "–"),
        el("td", { class: "num" }, percent(cluster.faq_coverage)),
        el("td", {}, cluster.best_faq ? cluster.best_faq.question : "none"),
        el("td", {}, el("a", { href: "/console/knowledge?" + new URLSearchParams({ draft: cluster.terms.join(", "), ...(cluster.language ? { language: cluster.language } : {}) }), "aria-label": `Draft an FAQ entry for topic ${cluster.rank}` }, "Draft entry")),
      );
    });
    $("gaps").replaceChildren(
      el("table", {},
        el("thead", {}, el("tr", {}, ["rank", "topic", "tickets", "department", "language", "FAQ coverage", "closest FAQ entry", "new FAQ entry"].map((h, i) => el("th", { scope: "col", class: [0, 2, 5].includes(i) ? "num" : "" }, h)))),
        el("tbody", {}, rows),
      ),
    );
  } catch (error) {
    $("gaps-status").textContent = explain(error);
  }
}

$("insights-form").addEventListener("submit", (event) => {
  event.preventDefault();
  show().catch((error) => { $("insights-status").textContent = explain(error); });
});
$("insights-target").addEventListener("change", () => showDrivers(choices()).catch((error) => toast(explain(error), true)));
show().catch((error) => { $("insights-status").textContent = explain(error); });
