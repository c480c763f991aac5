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

async function callOnce(method, path, body) {
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

// Asks for the password again in the shell's dialog; resolves once the server has it.
function reauthenticate() {
  const dialog = document.getElementById("reauth");
  if (!dialog) return Promise.reject(new Error("Sign in again to do this."));
  const form = document.getElementById("reauth-form");
  const input = document.getElementById("reauth-password");
  const error = document.getElementById("reauth-error");
  return new Promise((resolve, reject) => {
    const cancel = document.getElementById("reauth-cancel");
    const done = (ok, err) => {
      form.onsubmit = null;
      cancel.onclick = null;
      dialog.oncancel = null;
      input.value = "";
      error.textContent = "";
      input.removeAttribute("aria-invalid");
      dialog.close();
      ok ? resolve() : reject(err);
    };
    form.onsubmit = async (event) => {
      event.preventDefault();
      try {
        await callOnce("POST", "/api/v1/auth/reauthenticate", { password: input.value });
        done(true);
      } catch (err) {
        error.textContent = err.message;
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    };
    const cancelled = () => done(false, new Error("Not changed: your password was not confirmed."));
    cancel.onclick = cancelled;
    dialog.oncancel = (event) => { event.preventDefault(); cancelled(); };
    dialog.showModal();
    input.focus();
  });
}

// One API call; a change that needs a recent sign-in asks for the password, then is sent
// again once.
async function call(method, path, body) {
  try {
    return await callOnce(method, path, body);
  } catch (err) {
    if (err.code !== "reauthentication_required") throw err;
    await reauthenticate();
    return callOnce(method, path, body);
  }
}
const callWithStepUp = call;

// The shell's section menu folds away on a phone; the button opens and closes it.
(() => {
  const toggle = document.getElementById("menu-toggle");
  const menu = document.getElementById("sections-menu");
  if (!toggle || !menu) return;
  toggle.hidden = false;
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  });
})();

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
