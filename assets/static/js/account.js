// Account, members and second-factor pages. Changes go through Rampart's JSON API with the
// session's CSRF token; errors are shown next to the field the API names.
"use strict";

function clearErrors(form) {
  form.querySelectorAll(".field-error.js-error").forEach((el) => el.remove());
  form.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute("aria-invalid"));
}

// Puts the message under the named field, or at the end of the form.
function showError(form, err) {
  clearErrors(form);
  const message = document.createElement("p");
  message.className = "field-error js-error";
  message.setAttribute("role", "alert");
  message.textContent = err.message;
  const field = err.field && form.querySelector(`[name="${CSS.escape(err.field)}"]`);
  if (field) {
    field.setAttribute("aria-invalid", "true");
    message.id = `${field.id || err.field}-error`;
    field.setAttribute("aria-describedby", message.id);
    field.insertAdjacentElement("afterend", message);
    field.focus();
  } else {
    form.querySelector('button[type="submit"]')?.insertAdjacentElement("beforebegin", message);
  }
}

function status(text) {
  const el = document.getElementById("status");
  if (el) el.textContent = text;
}

function formJson(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.type === "submit" || el.type === "button") continue;
    out[el.name] =
      el.type === "number" ? Number(el.value) : el.type === "checkbox" ? el.checked : el.value;
  }
  return out;
}

function reveal(id, fill) {
  const section = document.getElementById(id);
  fill();
  section.hidden = false;
  section.scrollIntoView({ block: "nearest" });
}

// New recovery codes: shown once, with Copy and Download, and a warning before leaving
// the page until the person says they saved them.
let unsavedCodes = false;
window.addEventListener("beforeunload", (event) => {
  if (unsavedCodes) event.preventDefault();
});

function showRecoveryCodes(codes) {
  if (!codes || codes.length === 0) return;
  const text = `Rampart recovery codes (each works once)\n\n${codes.join("\n")}\n`;
  reveal("recovery", () => {
    const list = document.getElementById("recovery-codes");
    list.replaceChildren(...codes.map((code) => {
      const item = document.createElement("li");
      item.textContent = code;
      return item;
    }));
    document.getElementById("recovery-download").href =
      URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  });
  unsavedCodes = true;
  const saved = document.getElementById("recovery-saved");
  const done = document.getElementById("recovery-done");
  saved.checked = false;
  done.disabled = true;
  saved.onchange = () => { done.disabled = !saved.checked; };
  done.onclick = () => {
    unsavedCodes = false;
    location.reload();
  };
  document.getElementById("recovery-copy").onclick = async () => {
    try {
      await navigator.clipboard.writeText(text);
      status("Copied the recovery codes.");
    } catch (_) {
      status("Your browser did not allow copying: select the codes, or download them.");
    }
  };
}

function bindRecoveryRegenerate() {
  const button = document.getElementById("recovery-regenerate");
  if (!button) return;
  button.addEventListener("click", async () => {
    if (!window.confirm("Make new recovery codes? The ones you have stop working.")) return;
    try {
      const result = await call("POST", "/api/v1/me/recovery-codes");
      showRecoveryCodes(result.recovery_codes);
    } catch (err) {
      status(err.message);
    }
  });
}

const shows = {
  token: (result) => reveal("new-token", () => {
    document.getElementById("new-token-value").textContent = result.token;
  }),
  invite: (result) => reveal("new-invite", () => {
    document.getElementById("new-invite-link").textContent = result.url;
    showInvitation(result);
  }),
};

const ROLE_LABELS = { owner: "Owner", admin: "Admin", member: "Member", viewer: "Viewer" };

// A new invitation appears in the table at once, with its Withdraw button.
function showInvitation(invitation) {
  const body = document.querySelector("#invitations tbody");
  if (!body) return;
  body.querySelector("td.muted")?.closest("tr").remove();
  const row = document.createElement("tr");
  const cell = (text, label) => {
    const td = document.createElement("td");
    td.textContent = text;
    td.dataset.label = label;
    row.append(td);
    return td;
  };
  cell(invitation.email, "E-mail");
  cell(ROLE_LABELS[invitation.role] || invitation.role, "Role");
  cell(new Date(invitation.expires_at * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC", "Expires");
  const actions = cell("", "Actions");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.textContent = "Withdraw";
  const org = body.closest("table").dataset.org;
  button.addEventListener("click", async () => {
    if (!window.confirm(`Withdraw the invitation to ${invitation.email}?`)) return;
    try {
      await call("DELETE", `/api/v1/orgs/${org}/invitations/${invitation.id}`);
      row.remove();
      status("Invitation withdrawn.");
    } catch (err) {
      status(err.message);
    }
  });
  actions.append(button);
  body.prepend(row);
  status(`Invited ${invitation.email}.`);
}

function bindApiForms() {
  for (const form of document.querySelectorAll("form[data-api]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const [method, path] = form.dataset.api.split(" ");
      try {
        const result = await callWithStepUp(method, path, formJson(form));
        clearErrors(form);
        if (!("keep" in form.dataset)) form.reset();
        if (form.dataset.show) shows[form.dataset.show](result);
        else if (form.dataset.done) status(form.dataset.done);
        else location.reload();
      } catch (err) {
        showError(form, err);
      }
    });
  }
  for (const button of document.querySelectorAll("button[data-api-call]")) {
    button.addEventListener("click", async () => {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      const [method, path] = button.dataset.apiCall.split(" ");
      try {
        await callWithStepUp(method, path);
        location.reload();
      } catch (err) {
        status(err.message);
      }
    });
  }
  for (const select of document.querySelectorAll("select[data-role-of]")) {
    select.addEventListener("change", async () => {
      try {
        await callWithStepUp("PUT", select.dataset.roleOf, { role: select.value });
        status("Role changed.");
      } catch (err) {
        status(err.message);
      }
    });
  }
}

function bindTotp() {
  const begin = document.getElementById("totp-begin");
  if (!begin) return;
  begin.addEventListener("click", async () => {
    try {
      const enrolment = await callWithStepUp("POST", "/api/v1/me/totp");
      document.getElementById("totp-secret").textContent = enrolment.secret;
      document.getElementById("totp-qr").src = enrolment.qr_code;
      document.getElementById("totp-url").href = enrolment.otpauth_url;
      document.getElementById("totp-enrol").hidden = false;
      begin.hidden = true;
      document.getElementById("totp-code").focus();
    } catch (err) {
      status(err.message);
    }
  });
  const confirmForm = document.getElementById("totp-confirm");
  confirmForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const result = await callWithStepUp("POST", "/api/v1/me/totp/confirm", formJson(confirmForm));
      clearErrors(confirmForm);
      document.getElementById("totp-enrol").hidden = true;
      document.getElementById("totp-status").textContent = "On.";
      showRecoveryCodes(result.recovery_codes);
      status("Authenticator app turned on. Your other sessions were ended.");
    } catch (err) {
      showError(confirmForm, err);
    }
  });
}

// Browsers refuse WebAuthn on an IP address; say what to do instead of a bare refusal.
function ipAddressProblem() {
  const host = location.hostname;
  if (!/^[0-9.]+$/.test(host) && !host.includes(":")) return null;
  const port = location.port ? `:${location.port}` : "";
  return `Security keys need a host name, not an IP address: open Rampart at https://localhost${port} on this machine, or ask your administrator to set public_url.`;
}

function bindSecurityKeys() {
  const form = document.getElementById("add-key");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problem = ipAddressProblem();
    if (problem) {
      showError(form, Object.assign(new Error(problem), { field: "name" }));
      return;
    }
    try {
      const options = await callWithStepUp("POST", "/api/v1/me/security-keys", formJson(form));
      const credential = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
      });
      const result = await call("POST", "/api/v1/me/security-keys/confirm", {
        credential: credential.toJSON(),
      });
      clearErrors(form);
      const row = document.createElement("tr");
      row.innerHTML = "<td></td><td>just now</td><td>never</td><td></td>";
      row.firstChild.textContent = result.security_key.name;
      document.querySelector("#security-keys tbody").append(row);
      form.reset();
      showRecoveryCodes(result.recovery_codes);
      status(`Security key "${result.security_key.name}" added. Your other sessions were ended.`);
    } catch (err) {
      showError(form, err instanceof ApiError ? err : new Error(`The key did not answer: ${err.message}`));
    }
  });
}

function bindSecurityKeySignIn() {
  const button = document.querySelector("[data-security-key-sign-in]");
  if (!button) return;
  const error = document.getElementById("security_key-error");
  button.addEventListener("click", async () => {
    error.hidden = true;
    const problem = ipAddressProblem();
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      return;
    }
    try {
      const options = await call("POST", "/api/v1/auth/mfa/webauthn");
      const assertion = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
      });
      await call("POST", "/api/v1/auth/mfa", { webauthn: assertion.toJSON() });
      location.assign("/");
    } catch (err) {
      if (err.status === 401 && err.code !== "invalid_second_factor") {
        location.assign("/signin");
        return;
      }
      error.textContent = err instanceof ApiError ? err.message : `The key did not answer: ${err.message}`;
      error.hidden = false;
    }
  });
}

bindApiForms();
bindTotp();
bindSecurityKeys();
bindSecurityKeySignIn();
bindRecoveryRegenerate();
