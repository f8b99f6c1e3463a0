import { api, el, explain, requireSignIn, toast } from "./common.js";

await requireSignIn();

const $ = (id) => document.getElementById(id);
let editing = null; // the FAQ entry in the editor, or null for a new one

async function loadEntries() {
  const params = new URLSearchParams({ limit: "50" });
  if ($("faq-text").value.trim()) params.set("text", $("faq-text").value.trim());
  if ($("faq-published").value) params.set("published", $("faq-published").value);
  let page;
  try {
    page = await api("/v1/faq?" + params);
  } catch (error) {
    $("faq-count").textContent = explain(error);
    $("faq-list").replaceChildren();
    return;
  }
  $("faq-count").textContent = `${page.total} entr${page.total === 1 ? "y" : "ies"}${page.total > page.entries.length ? `, the first ${page.entries.length} shown` : ""}.`;
  $("faq-list").replaceChildren(
    el("table", {},
      el("thead", {}, el("tr", {}, ["Question", "Language", "Status", "Tags", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, page.entries.map((entry) =>
        el("tr", { "data-faq": entry.id },
          el("td", {}, entry.question),
          el("td", {}, entry.language || "–"),
          el("td", {}, entry.published ? "published" : "draft"),
          el("td", {}, (entry.tags || []).join(", ")),
          el("td", {}, el("button", { type: "button", class: "secondary small", "aria-label": `Edit: ${entry.question}`, onclick: () => edit(entry) }, "Edit")),
        ),
      )),
    ),
  );
}

function edit(entry, focus = true) {
  editing = entry;
  $("faq-editor-title").textContent = entry ? `Edit entry #${entry.id}` : "New entry";
  $("faq-question").value = entry?.question || "";
  $("faq-answer").value = entry?.answer || "";
  $("faq-language").value = entry?.language || "";
  $("faq-tags").value = (entry?.tags || []).join(", ");
  $("faq-is-published").checked = entry ? entry.published : true;
  $("faq-delete").hidden = !entry;
  $("faq-error").textContent = "";
  if (focus) $("faq-question").focus();
}

$("faq-editor").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("faq-error").textContent = "";
  const body = {
    question: $("faq-question").value.trim(),
    answer: $("faq-answer").value.trim(),
    tags: $("faq-tags").value.split(",").map((t) => t.trim()).filter(Boolean),
    published: $("faq-is-published").checked,
  };
  if ($("faq-language").value.trim()) body.language = $("faq-language").value.trim();
  if (!body.question || !body.answer) {
    $("faq-error").textContent = "An entry needs a question and an answer.";
    return;
  }
  try {
    const saved = editing
      ? await api(`/v1/faq/${editing.id}`, { method: "PATCH", body })
      : await api("/v1/faq", { method: "POST", body });
    toast(`Saved entry #${saved.id}; the portal search sees it now.`);
    edit(saved, false);
    await loadEntries();
  } catch (error) {
    $("faq-error").textContent = explain(error);
  }
});

$("faq-delete").addEventListener("click", async () => {
  if (!editing || !confirm(`Delete entry #${editing.id}?`)) return;
  try {
    await api(`/v1/faq/${editing.id}`, { method: "DELETE" });
    toast(`Deleted entry #${editing.id}.`);
    edit(null);
    await loadEntries();
  } catch (error) {
    $("faq-error").textContent = explain(error);
  }
});

$("faq-new").addEventListener("click", () => edit(null));
$("faq-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  loadEntries();
});

$("portal-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = $("portal-query").value.trim();
  if (!q) return;
  try {
    const result = await api("/v1/faq/search?" + new URLSearchParams({ q, k: "5" }));
    const items = result.results.map((hit) =>
      el("li", { "data-faq": hit.id },
        el("strong", {}, hit.question), " ", el("span", { class: "score" }, `(similarity ${hit.score.toFixed(2)})`),
        el("div", { class: "evidence" }, hit.answer),
      ),
    );
    $("portal-results").replaceChildren(...(items.length ? items : [el("li", { class: "meta" }, "The portal finds no published entry for this question.")]));
  } catch (error) {
    $("portal-results").replaceChildren(el("li", { class: "error" }, explain(error)));
  }
});

// The insights page links a self-service gap here with the topic's words and language. Only those: a ticket's
// own text could carry a name or an order number that masking misses, into the URL and onto the public portal.
// The draft starts unpublished, so nothing reaches the portal before someone has read it.
const drafted = new URLSearchParams(location.search);
const draft = drafted.get("draft");
edit(null, Boolean(draft));
if (draft) {
  $("faq-tags").value = draft;
  // A language code, or nothing: the field is sent as typed.
  if (/^[a-z]{2,3}$/.test(drafted.get("language") || "")) $("faq-language").value = drafted.get("language");
  $("faq-is-published").checked = false;
}
loadEntries();
