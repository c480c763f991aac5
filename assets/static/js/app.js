// Rampart's page script. Served from our own origin: the CSP allows no inline script.
"use strict";
document.documentElement.classList.add("js");

// Shared by the page scripts (loaded after this one, all deferred): the session's CSRF
// token and one JSON API call that throws an ApiError carrying the API's message, code and
// field.
const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `request failed (${status})`);
    this.status = status;
    this.code = body?.error?.code;
    this.field = body?.error?.field;
  }
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

// A person reading or typing on a page for a long time sends no requests; while they are
// active, tell the server every few minutes so the session's idle expiry does not end their
// work. Inactivity still lets the session lapse.
(() => {
  const signedIn = document.querySelector('meta[name="csrf-token"], form[action="/signout"]');
  if (!signedIn) return;
  let active = false;
  for (const event of ["keydown", "pointerdown", "input", "scroll"]) {
    window.addEventListener(event, () => { active = true; }, { passive: true });
  }
  window.setInterval(() => {
    if (!active) return;
    active = false;
    fetch("/api/v1/me", { credentials: "same-origin", cache: "no-store" }).catch(() => {});
  }, 4 * 60 * 1000);
})();
