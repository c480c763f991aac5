// Rampart's page script. Served from our own origin: the CSP allows no inline script.
"use strict";
document.documentElement.classList.add("js");

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
