import { api, apiKey, el, explain, fill, percent, requireSignIn, toast } from "./common.js";

await requireSignIn();

const $ = (id) => document.getElementById(id);
const state = {
  ticket: null, // the open ticket (GET /v1/tickets/{id}), or null for a pasted conversation
  suggestions: null,
  verdicts: new Map(), // "kind:target" → "accepted" | "rejected", for the open ticket
  socket: null,
  retry: 0,
};
$("agent-id").value = localStorage.getItem("assistant.agentId") || "";
$("agent-id").addEventListener("change", () => localStorage.setItem("assistant.agentId", $("agent-id").value.trim()));
const agentId = () => $("agent-id").value.trim() || undefined;

// ---- routing configuration: what a ticket can be re-routed to ----
async function loadConfig() {
  const config = await api("/v1/routing/config");
  const classifier = config.classifier || {};
  const departments = [...new Set(classifier.departments || [])].sort();
  $("reroute-department").replaceChildren(...departments.map((d) => el("option", { value: d }, d)));
  const intents = classifier.label_kind === "intent" ? [...(classifier.labels || [])].sort() : [];
  $("reroute-intent").replaceChildren(el("option", { value: "" }, "—"), ...intents.map((i) => el("option", { value: i }, i)));
}

// ---- the queue ----
async function loadQueue() {
  const params = new URLSearchParams({ limit: "30" });
  if ($("queue-open").checked) params.set("solved", "false");
  const text = $("queue-text").value.trim();
  if (text) params.set("text", text);
  const page = await api("/v1/tickets?" + params);
  const items = page.tickets.map((ticket) =>
    el("li", {},
      el("button", {
        type: "button",
        "data-ticket": ticket.id,
        "aria-current": state.ticket && state.ticket.id === ticket.id ? "true" : "false",
        onclick: () => openTicket(ticket.id),
      },
        el("span", { class: "subject" }, ticket.subject || ticket.excerpt || "(no subject)"),
        el("span", { class: "tag" }, ticket.department || "unrouted"),
        ticket.needs_human_triage ? el("span", { class: "tag triage" }, "triage") : null,
        ticket.solved ? el("span", { class: "tag solved" }, "solved") : null,
        el("span", { class: "meta" }, `#${ticket.id} · ${ticket.channel} · ${new Date(ticket.created_at).toLocaleString()}`),
      ),
    ),
  );
  $("queue-list").replaceChildren(...(items.length ? items : [el("li", { class: "meta" }, "No tickets match.")]));
}

// ---- one ticket ----
async function openTicket(id) {
  const ticket = await showTicket(id);
  state.verdicts.clear();
  $("solve-error").textContent = "";
  $("conversation").value = [ticket.subject, ticket.body].filter(Boolean).join("\n\n");
  for (const button of document.querySelectorAll("[data-ticket]")) {
    button.setAttribute("aria-current", String(Number(button.dataset.ticket) === ticket.id));
  }
  sendConversation();
}

// The ticket's header and routing decision; the conversation and the agent's verdicts stay as they are.
async function showTicket(id) {
  const ticket = await api(`/v1/tickets/${id}`);
  state.ticket = ticket;
  $("ticket-title").textContent = ticket.subject || `Ticket #${ticket.id}`;
  $("ticket-meta").textContent =
    `#${ticket.id} · ${ticket.source} ${ticket.external_id} · ${ticket.channel}` +
    (ticket.language ? ` · language ${ticket.language}` : "") +
    ` · created ${new Date(ticket.created_at).toLocaleString()}`;
  renderDecision(ticket.decisions[ticket.decisions.length - 1], ticket);
  $("reroute-form").hidden = false;
  $("solve-button").disabled = false;
  return ticket;
}

function renderDecision(decision, ticket) {
  if (!decision) {
    // A ticket imported with its department (the desk's history) was routed before this service saw it.
    $("decision").replaceChildren(ticket && ticket.department
      ? el("p", {},
          el("span", { class: "department", "data-testid": "department" }, ticket.department),
          ticket.intent ? el("span", {}, ` · ${ticket.intent}`) : null,
          el("span", { class: "meta" }, " · routed before this service; no decision recorded"))
      : el("p", { class: "meta" }, "No routing decision yet."));
    return;
  }
  const confidence = decision.confidence ?? 0;
  const alternatives = (decision.alternatives || []).map((alt) =>
    el("li", {}, `${alt.department}${alt.intent ? " · " + alt.intent : ""} — ${percent(alt.confidence)}`),
  );
  fill($("decision"),
    el("p", {},
      el("span", { class: "department", "data-testid": "department" }, decision.department),
      decision.intent ? el("span", {}, ` · ${decision.intent}`) : null,
    ),
    el("div", { class: "confidence" },
      el("label", { for: "decision-confidence" }, "Confidence"),
      el("meter", { id: "decision-confidence", min: "0", max: "1", low: "0.5", high: "0.8", optimum: "1", value: String(confidence) }),
      el("span", {}, percent(confidence)),
    ),
    decision.needs_human_triage
      ? el("p", { class: "error" }, `Needs human triage: ${decision.triage_reason === "out_of_scope" ? "unlike anything this desk handles" : "the model is unsure"}.`)
      : null,
    decision.kind && decision.kind !== "model"
      ? el("p", { class: "meta" }, `Decided by ${decision.kind}${decision.rule ? " " + decision.rule : ""}${decision.actor ? " (" + decision.actor + ")" : ""}.`)
      : null,
    alternatives.length ? el("h3", {}, "Alternatives") : null,
    alternatives.length ? el("ol", { class: "alternatives" }, alternatives) : null,
  );
}

$("reroute-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!state.ticket) return;
  const body = { department: $("reroute-department").value, agent_id: agentId() };
  if ($("reroute-intent").value) body.intent = $("reroute-intent").value;
  if ($("reroute-note").value.trim()) body.note = $("reroute-note").value.trim();
  try {
    await api(`/v1/tickets/${state.ticket.id}/reroute`, { method: "POST", body });
    toast(`Re-routed to ${body.department}.`);
    await showTicket(state.ticket.id);
    await loadQueue();
  } catch (error) {
    toast(explain(error), true);
  }
});

// ---- a conversation without a ticket: route it, or open a ticket for it ----
function newTicketBody() {
  return {
    subject: $("new-subject").value.trim(),
    body: $("new-body").value.trim(),
    channel: $("new-channel").value,
  };
}

$("route-only").addEventListener("click", async () => {
  const draft = newTicketBody();
  if (!draft.subject && !draft.body) {
    toast("Write what the customer says first.", true);
    return;
  }
  try {
    const decision = await api("/v1/route", { method: "POST", body: draft });
    state.ticket = null;
    state.verdicts.clear();
    $("ticket-title").textContent = "Conversation (no ticket)";
    $("ticket-meta").textContent = "Routed, not stored. Open a ticket to solve it.";
    $("reroute-form").hidden = true;
    $("solve-button").disabled = true;
    renderDecision(decision);
    $("conversation").value = [draft.subject, draft.body].filter(Boolean).join("\n\n");
    sendConversation();
  } catch (error) {
    toast(explain(error), true);
  }
});

$("new-ticket-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = newTicketBody();
  if (!body.subject && !body.body) {
    toast("Write what the customer says first.", true);
    return;
  }
  const customer = $("new-customer").value.trim();
  if (customer) body.customer_ref = customer;
  body.agent_id = agentId();
  try {
    const decision = await api("/v1/tickets", { method: "POST", body });
    toast(`Ticket #${decision.ticket_id} opened and routed to ${decision.department}.`);
    $("new-ticket-form").reset();
    $("new-ticket").open = false;
    await loadQueue();
    await openTicket(decision.ticket_id);
  } catch (error) {
    toast(explain(error), true);
  }
});

// ---- live suggestions over the WebSocket ----
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // Browsers cannot send an Authorization header on a WebSocket; the key travels as a subprotocol.
  const socket = new WebSocket(`${scheme}://${location.host}/v1/assist/live`, ["assistant.v1", "bearer." + apiKey()]);
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.retry = 0;
    $("live-status").textContent = "Live: suggestions follow the conversation.";
    sendConversation();
  });
  socket.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "suggestions") {
      state.suggestions = data.suggestions;
      renderSuggestions();
      $("suggestions").setAttribute("aria-busy", "false");
      $("live-status").textContent = `Suggestions updated at ${new Date().toLocaleTimeString()}.`;
    } else if (data.type === "error") {
      $("live-status").textContent = "Suggestions: " + data.error.message;
    }
  });
  socket.addEventListener("close", () => {
    state.socket = null;
    const wait = Math.min(30, 2 ** state.retry++);
    $("live-status").textContent = `Disconnected; reconnecting in ${wait} s.`;
    setTimeout(connect, wait * 1000);
  });
}

function sendConversation() {
  const text = $("conversation").value;
  if (!state.socket || state.socket.readyState !== WebSocket.OPEN || !text.trim()) return;
  const message = { type: "text", text };
  if (state.ticket) message.ticket_id = state.ticket.id;
  state.socket.send(JSON.stringify(message));
  $("suggestions").setAttribute("aria-busy", "true");
  $("live-status").textContent = "Updating suggestions…";
}

$("conversation").addEventListener("input", sendConversation);

// ---- suggestions, with the agent's verdicts ----
function verdictButtons(kind, target, label) {
  const key = `${kind}:${target}`;
  const current = state.verdicts.get(key);
  const button = (verdict, text) =>
    el("button", {
      type: "button",
      class: `small ${verdict === "accepted" ? "accept" : "reject"}`,
      "aria-pressed": String(current === verdict),
      "aria-label": `${text} ${label}`,
      onclick: () => giveVerdict(kind, target, verdict),
    }, text);
  return el("span", { class: "verdicts" }, button("accepted", "Accept"), button("rejected", "Reject"));
}

async function giveVerdict(kind, target, verdict) {
  const body = { kind, target: String(target), verdict, agent_id: agentId() };
  const intent = state.suggestions?.query?.intent;
  if (intent) body.intent = intent;
  if (state.ticket) body.ticket_id = state.ticket.id;
  try {
    await api("/v1/suggestions/feedback", { method: "POST", body });
    state.verdicts.set(`${kind}:${target}`, verdict);
    renderSuggestions();
    toast(`${verdict === "accepted" ? "Accepted" : "Rejected"}: ${kind} ${target}. It counts in the ranking from now on.`);
  } catch (error) {
    toast(explain(error), true);
  }
}

function renderSuggestions() {
  const s = state.suggestions;
  if (!s) return;
  const actions = s.actions.map((action) =>
    el("li", { "data-action": action.action },
      el("div", { class: "head" },
        el("strong", {}, action.action),
        el("span", { class: "score" }, `score ${action.score.toFixed(2)}`),
        verdictButtons("action", action.action, `action ${action.action}`),
      ),
      el("div", { class: "evidence" },
        action.case_ids.length ? `from cases ${action.case_ids.map((id) => "#" + id).join(", ")}` : "",
        action.case_ids.length && action.playbook ? " · " : "",
        action.playbook ? `playbook for ${action.playbook}` : "",
        action.accepted || action.rejected ? ` · agents: ${action.accepted} accepted, ${action.rejected} rejected` : "",
      ),
    ),
  );
  const cases = s.cases.map((item) =>
    el("li", { "data-case": item.id },
      el("div", { class: "head" },
        el("strong", {}, `Case #${item.id}`),
        el("span", { class: "score" }, `similarity ${item.score.toFixed(2)}`),
        verdictButtons("case", item.id, `case ${item.id}`),
      ),
      el("div", {}, item.summary),
      el("div", { class: "evidence" }, "Resolution: " + item.resolution),
      item.actions.length ? el("div", { class: "evidence" }, "Actions: " + item.actions.join(", ")) : null,
    ),
  );
  const faq = s.faq.map((item) =>
    el("li", { "data-faq": item.id },
      el("div", { class: "head" },
        el("strong", {}, item.question),
        el("span", { class: "score" }, `similarity ${item.score.toFixed(2)}`),
        verdictButtons("faq", item.id, `FAQ entry ${item.id}`),
      ),
      el("div", { class: "evidence" }, item.answer_excerpt),
    ),
  );
  const section = (title, items, empty) => [
    el("h3", {}, title),
    items.length ? el("ul", { class: "suggestion-list" }, items) : el("p", { class: "meta" }, empty),
  ];
  const query = s.query || {};
  fill($("suggestions"),
    query.intent ? el("p", { class: "meta" }, `Reads as ${query.intent} (${percent(query.confidence)}).`) : null,
    ...section("Next-best actions", actions, "No actions to suggest."),
    ...section("Similar resolved cases", cases, "No similar cases."),
    ...section("FAQ entries", faq, "No FAQ entry fits."),
  );
  renderSolveActions();
}

// The solve form offers the suggested actions; accepted ones are ticked.
function renderSolveActions() {
  const box = $("solve-actions");
  const ticked = new Set([...box.querySelectorAll("input:checked")].map((input) => input.value));
  const names = (state.suggestions?.actions || []).map((a) => a.action);
  box.replaceChildren(
    ...names.map((name) =>
      el("label", { class: "check" },
        el("input", {
          type: "checkbox",
          value: name,
          checked: ticked.has(name) || state.verdicts.get(`action:${name}`) === "accepted",
        }),
        name,
      ),
    ),
  );
}

$("solve-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("solve-error").textContent = "";
  if (!state.ticket) return;
  const resolution = $("solve-resolution").value.trim();
  if (!resolution) {
    $("solve-error").textContent = "Write what solved it.";
    $("solve-resolution").focus();
    return;
  }
  const actions = [...$("solve-actions").querySelectorAll("input:checked")].map((input) => input.value);
  for (const name of $("solve-more").value.split(",")) if (name.trim()) actions.push(name.trim().toLowerCase());
  try {
    const solved = await api(`/v1/tickets/${state.ticket.id}/solve`, {
      method: "POST",
      body: { resolution, actions, first_contact: $("solve-first-contact").checked, agent_id: agentId() },
    });
    toast(`Solved. Resolved case #${solved.id} is in the knowledge base now.`);
    $("solve-form").reset();
    $("agent-id").value = localStorage.getItem("assistant.agentId") || "";
    await loadQueue();
  } catch (error) {
    $("solve-error").textContent = explain(error);
  }
});

$("queue-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  loadQueue().catch((error) => toast(explain(error), true));
});
$("queue-open").addEventListener("change", () => loadQueue().catch((error) => toast(explain(error), true)));

connect();
Promise.all([loadConfig(), loadQueue()])
  .then(() => {
    const wanted = Number(new URLSearchParams(location.search).get("ticket"));
    if (wanted) return openTicket(wanted);
  })
  .catch((error) => toast(explain(error), true));
