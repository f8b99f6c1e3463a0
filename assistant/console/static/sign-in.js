import { api, ApiError, signIn } from "./common.js";

const form = document.getElementById("sign-in-form");
const input = document.getElementById("api-key");
const error = document.getElementById("sign-in-error");
input.focus();

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const key = input.value.trim();
  if (!key) {
    error.textContent = "Paste an API key.";
    input.focus();
    return;
  }
  try {
    const me = await api("/v1/me", { key });
    signIn(key, me.role);
    const next = new URLSearchParams(location.search).get("next");
    location.assign(next && next.startsWith("/console/") ? next : "/console/agent");
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 401) error.textContent = "That key is unknown or revoked.";
    else if (failure instanceof ApiError && failure.status === 403) {
      error.textContent = "This key's role cannot use the console; use an agent or admin key.";
    } else error.textContent = failure.message;
    input.focus();
  }
});
