// Shared by every console page: the signed-in key, API calls, and a safe way to build DOM (text only, never HTML).

const KEY_STORE = "assistant.apiKey";
const ROLE_STORE = "assistant.role";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORE);
}

export function signIn(key, role) {
  sessionStorage.setItem(KEY_STORE, key);
  sessionStorage.setItem(ROLE_STORE, role);
}

export function signOut() {
  sessionStorage.removeItem(KEY_STORE);
  sessionStorage.removeItem(ROLE_STORE);
  location.assign("/console/sign-in");
}

// Every page but sign-in: without a key, go and get one, then come back here (the page's script waits meanwhile).
export async function requireSignIn() {
  const key = apiKey();
  if (!key) {
    location.replace("/console/sign-in?next=" + encodeURIComponent(location.pathname + location.search));
    await new Promise(() => {});
  }
  const page = document.body.dataset.page;
  document.getElementById("nav").hidden = false;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === page) link.setAttribute("aria-current", "page");
  }
  document.getElementById("who").textContent = "Signed in as " + (sessionStorage.getItem(ROLE_STORE) || "?");
  const out = document.getElementById("sign-out");
  out.hidden = false;
  out.addEventListener("click", signOut);
  return key;
}

export async function api(path, { method = "GET", body, key = apiKey(), raw = false } = {}) {
  const headers = { Authorization: "Bearer " + key };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401 && key === apiKey()) {
    signOut();
    throw new ApiError(401, "invalid_api_key", "The key is no longer valid; sign in again.");
  }
  if (!response.ok) {
    let code = "http_" + response.status;
    let message = response.statusText;
    try {
      const error = (await response.json()).error || {};
      code = error.code || code;
      message = error.message || message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, code, message);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

// el("li", {class: "x", onclick: f}, "text", child) — strings become text nodes, so data never turns into markup.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// replaceChildren would print a skipped (null) child as the text "null".
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
}

let toastTimer;
export function toast(message, bad = false) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.classList.toggle("bad", bad);
  box.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.remove("show"), 4000);
}

export function explain(error) {
  if (error instanceof ApiError && error.status === 403) return "Your key's role may not do this: " + error.message;
  return error.message || String(error);
}

export function hours(value) {
  if (value === null || value === undefined) return "–";
  if (value >= 48) return (value / 24).toFixed(1) + " d";
  if (value >= 1) return value.toFixed(1) + " h";
  return Math.round(value * 60) + " min";
}

export function percent(value) {
  return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + " %";
}
