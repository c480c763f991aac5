// The organization's settings page: saves through PUT /api/v1/orgs/{org_id}, keeping the
// contracts the form does not show.
"use strict";

(() => {
  const form = document.getElementById("org-settings");
  if (!form) return;
  const status = document.getElementById("settings-status");
  const path = `/api/v1/orgs/${form.dataset.org}`;
  const text = (name) => form.elements[name].value.trim();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.querySelectorAll(".js-error").forEach((el) => el.remove());
    form.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute("aria-invalid"));
    status.textContent = "Saving…";
    try {
      const current = await call("GET", path);
      await call("PUT", path, {
        name: text("name"),
        cage: text("cage") || null,
        uei: text("uei") || null,
        contracts: current.contracts || [],
        require_mfa: form.elements.require_mfa.checked,
        mail_detail: form.elements.mail_detail.checked,
      });
      status.textContent = "Saved.";
    } catch (err) {
      status.textContent = "";
      const message = document.createElement("p");
      message.className = "field-error js-error";
      message.setAttribute("role", "alert");
      message.textContent = err.message;
      const field = err.field && form.elements[err.field];
      if (field) {
        field.setAttribute("aria-invalid", "true");
        field.insertAdjacentElement("afterend", message);
        field.focus();
      } else {
        status.insertAdjacentElement("beforebegin", message);
      }
    }
  });
})();
