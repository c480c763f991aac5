// Assessment pages: objective statuses and notes saved as they change (one PATCH each, or
// one for a bulk change), keyboard shortcuts, filters, and the requirement, POA&M, dates and
// new-assessment forms. Everything goes through Rampart's JSON API with the CSRF token.
"use strict";

function status(text) {
  const el = document.getElementById("status");
  if (el) el.textContent = text;
}

function showFormError(form, err) {
  form.querySelectorAll(".field-error.js-error").forEach((el) => el.remove());
  const message = document.createElement("p");
  message.className = "field-error js-error";
  message.setAttribute("role", "alert");
  message.textContent = err.message;
  const field = err.field && form.querySelector(`[name="${err.field.split(/[.[]/)[0]}"]`);
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.insertAdjacentElement("afterend", message);
    field.focus();
  } else {
    form.append(message);
  }
}

// --- the objectives page -------------------------------------------------------------

const STATUS_KEYS = { m: "met", n: "not_met", a: "not_applicable", u: "not_assessed" };
const STATUS_LABELS = { met: "Met", not_met: "Not met", not_applicable: "Not applicable", not_assessed: "Not assessed" };

function requirementStatus(block) {
  const statuses = [...block.querySelectorAll("tr.objective")].map((row) => row.dataset.status);
  if (statuses.includes("not_met")) return "not_met";
  if (statuses.length === 0 || statuses.includes("not_assessed")) return "not_assessed";
  if (statuses.every((s) => s === "not_applicable")) return "not_applicable";
  return "met";
}

function showSaved(rows, updates) {
  for (const row of rows) {
    const update = updates.find((u) => u.objective === row.dataset.objective);
    if (update.status) {
      row.dataset.status = update.status;
      const select = row.querySelector("select.status");
      if (select) select.value = update.status;
    }
    const decided = row.querySelector(".decided");
    if (decided) decided.textContent = "saved just now";
  }
  for (const block of new Set(rows.map((row) => row.closest(".requirement")))) {
    const pill = block.querySelector("[data-requirement-status]");
    const now = requirementStatus(block);
    pill.textContent = STATUS_LABELS[now];
    pill.className = `pill status-${now}`;
  }
}

async function saveObjectives(root, rows, updates) {
  try {
    const result = await call("PATCH", `${root.dataset.assessment}/objectives`, { updates });
    showSaved(rows, updates);
    status(result.changed === 1 ? "Saved." : `Saved ${result.changed} changes.`);
  } catch (err) {
    status(err.message);
    // Put the selects back to what the server holds.
    for (const row of rows) {
      const select = row.querySelector("select.status");
      if (select) select.value = row.dataset.status;
    }
  }
}

function objectiveUpdate(row, statusValue) {
  return {
    objective: row.dataset.objective,
    status: statusValue ?? row.dataset.status,
    note: row.querySelector("textarea.note")?.value ?? undefined,
  };
}

function applyFilters() {
  const wanted = document.getElementById("filter-status")?.value || "";
  const owner = document.getElementById("filter-owner")?.value || "";
  const family = document.getElementById("filter-family")?.value || "";
  const text = (document.getElementById("filter-text")?.value || "").trim().toLowerCase();
  for (const section of document.querySelectorAll("details.family")) {
    const inFamily = !family || section.dataset.family === family;
    let blocks = 0;
    for (const block of section.querySelectorAll(".requirement")) {
      const owned = inFamily && (!owner || block.dataset.owners.split(" ").includes(owner));
      const heading = block.querySelector("h3").textContent.toLowerCase();
      let shown = 0;
      for (const row of block.querySelectorAll("tr.objective")) {
        const matches = !text || heading.includes(text) || row.textContent.toLowerCase().includes(text) ||
          (row.querySelector("textarea")?.value || "").toLowerCase().includes(text);
        const visible = owned && matches && (!wanted || row.dataset.status === wanted);
        row.hidden = !visible;
        if (visible) shown += 1;
      }
      block.hidden = shown === 0;
      if (shown) blocks += 1;
    }
    section.hidden = blocks === 0;
  }
}

function visibleRows() {
  return [...document.querySelectorAll("tr.objective")].filter((row) => !row.hidden && !row.closest(".requirement").hidden);
}

function bindObjectives() {
  const root = document.getElementById("objectives");
  if (!root) return;
  document.getElementById("filter-status")?.addEventListener("change", applyFilters);
  document.getElementById("filter-owner")?.addEventListener("change", applyFilters);
  document.getElementById("filter-family")?.addEventListener("change", applyFilters);
  document.getElementById("filter-text")?.addEventListener("input", applyFilters);
  // A link to one requirement (from its page) opens its family and shows it.
  const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (target) {
    target.closest("details")?.setAttribute("open", "");
    target.scrollIntoView({ block: "start" });
  }
  if (!("editable" in root.dataset)) return;

  root.addEventListener("change", (event) => {
    const row = event.target.closest("tr.objective");
    if (!row) return;
    if (event.target.matches("select.status")) {
      saveObjectives(root, [row], [objectiveUpdate(row, event.target.value)]);
    } else if (event.target.matches("textarea.note")) {
      saveObjectives(root, [row], [objectiveUpdate(row)]);
    }
  });

  document.getElementById("bulk-apply")?.addEventListener("click", () => {
    const picked = [...root.querySelectorAll("input.pick:checked")].map((box) => box.closest("tr.objective"));
    if (picked.length === 0) {
      status("Select objectives first (the box at the start of each row, or x).");
      return;
    }
    const value = document.getElementById("bulk-status").value;
    saveObjectives(root, picked, picked.map((row) => ({ objective: row.dataset.objective, status: value })))
      .then(() => picked.forEach((row) => { row.querySelector("input.pick").checked = false; }));
  });

  // Keyboard: j/k move between objectives; m/n/a/u set the status; x selects.
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    // Escape leaves a note or status for its row, so the keys work again.
    if (event.key === "Escape" && event.target.closest?.("tr.objective")) {
      event.target.closest("tr.objective").focus();
      return;
    }
    if (event.target.matches("textarea, input[type=text], input:not([type]), select")) return;
    const rows = visibleRows();
    const current = document.activeElement?.closest?.("tr.objective");
    const at = rows.indexOf(current);
    const key = event.key;
    if (key === "j" || key === "k") {
      const next = rows[Math.min(Math.max(at + (key === "j" ? 1 : -1), 0), rows.length - 1)];
      next?.focus();
      next?.scrollIntoView({ block: "nearest" });
      event.preventDefault();
    } else if (current && STATUS_KEYS[key]) {
      saveObjectives(root, [current], [objectiveUpdate(current, STATUS_KEYS[key])]);
      event.preventDefault();
    } else if (current && key === "x") {
      const box = current.querySelector("input.pick");
      box.checked = !box.checked;
      event.preventDefault();
    }
  });
}

// --- forms -----------------------------------------------------------------------------

function value(form, name) {
  const field = form.elements[name];
  return field ? field.value.trim() : "";
}

function optional(text) {
  return text === "" ? null : text;
}

function bindForm(selector, build) {
  for (const form of document.querySelectorAll(selector)) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const [method, path, body, then] = build(form);
        const result = await call(method, path, body);
        form.querySelectorAll(".field-error.js-error").forEach((el) => el.remove());
        form.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute("aria-invalid"));
        if (then) location.assign(then(result));
        else if ("stay" in form.dataset) status(`Saved at ${new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.`);
        else location.reload();
      } catch (err) {
        showFormError(form, err);
      }
    });
  }
}

function bindForms() {
  bindForm("form[data-api-json]", (form) => {
    const [method, path] = form.dataset.apiJson.split(" ");
    const body = { name: value(form, "name"), framework: value(form, "framework") };
    return [method, path, body, (created) => form.dataset.then + created.id];
  });
  bindForm("form[data-requirement-form]", (form) => {
    const [method, path] = form.dataset.requirementForm.split(" ");
    const kind = value(form, "inheritance_kind");
    const body = {
      implementation: value(form, "implementation"),
      responsible: [...form.elements.responsible.selectedOptions].map((o) => o.value),
      inheritance: kind ? { kind, provider: value(form, "inheritance_provider"), customer_share: value(form, "inheritance_share") } : null,
      review_date: optional(value(form, "review_date")),
      mfa_partial: form.elements.mfa_partial?.checked ?? false,
      encryption_partial: form.elements.encryption_partial?.checked ?? false,
      equally_effective: optional(value(form, "equally_effective")),
      enduring_exception: optional(value(form, "enduring_exception")),
      temporary_deficiency: optional(value(form, "temporary_deficiency")),
    };
    return [method, path, body];
  });
  bindForm("form[data-parameters-form]", (form) => {
    const [method, path] = form.dataset.parametersForm.split(" ");
    const values = {};
    for (const input of form.querySelectorAll("input[name]")) values[input.name] = input.value.trim();
    return [method, path, { values }];
  });
  bindForm("form[data-dates-form]", (form) => {
    const [method, path] = form.dataset.datesForm.split(" ");
    const dates = {};
    for (const name of ["conditional_status_date", "final_status_date", "affirmed_on", "level1_affirmed_on"]) {
      dates[name] = optional(value(form, name));
    }
    return [method, path, { name: form.dataset.name, dates }];
  });
}

// --- a POA&M item: the whole plan, milestones one by one -------------------------------

function bindPoamItem() {
  const form = document.querySelector("form[data-poam-item]");
  if (!form) return;
  const list = document.getElementById("milestones");
  const today = () => new Date().toISOString().slice(0, 10);
  let serial = list.children.length;
  const renumber = () => {
    for (const row of list.children) {
      serial += 1;
      for (const input of row.querySelectorAll("input")) {
        const label = row.querySelector(`label[for="${input.id}"]`);
        input.id = `${input.name}-${serial}`;
        if (label) label.htmlFor = input.id;
      }
    }
  };
  list.addEventListener("click", (event) => {
    const row = event.target.closest("li.milestone");
    if (!row) return;
    if (event.target.matches("[data-remove-milestone]")) {
      const title = row.querySelector('input[name="ms_title"]').value.trim() || "this milestone";
      if (!window.confirm(`Remove “${title}” from the plan? It is gone once you save.`)) return;
      row.remove();
      status("Removed. Save the plan to keep the change.");
    } else if (event.target.matches("[data-complete-milestone]")) {
      row.querySelector('input[name="ms_done"]').value = today();
      status("Marked done today. Save the plan to keep the change.");
    }
  });
  document.getElementById("add-milestone")?.addEventListener("click", () => {
    const template = list.querySelector("li.milestone");
    const row = template.cloneNode(true);
    for (const input of row.querySelectorAll("input")) input.value = "";
    list.append(row);
    renumber();
    row.querySelector('input[name="ms_title"]').focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.querySelectorAll(".field-error.js-error").forEach((el) => el.remove());
    const milestones = [...list.querySelectorAll("li.milestone")]
      .map((row) => ({
        title: row.querySelector('input[name="ms_title"]').value.trim(),
        due: row.querySelector('input[name="ms_due"]').value,
        done_on: row.querySelector('input[name="ms_done"]').value || null,
      }))
      .filter((m) => m.title || m.due);
    const body = {
      weakness: value(form, "weakness"),
      remediation: value(form, "remediation"),
      resources: value(form, "resources"),
      responsible: [...form.elements.responsible.selectedOptions].map((o) => o.value),
      milestones,
      status: value(form, "status"),
      closing_evidence: value(form, "closing_evidence"),
    };
    try {
      await call("PUT", form.dataset.poamItem, body);
      status(`Saved: the plan with ${milestones.length} milestone${milestones.length === 1 ? "" : "s"}.`);
    } catch (err) {
      const milestone = /^milestones\[(\d+)\]\.(\w+)/.exec(err.field || "");
      if (milestone) {
        const row = list.querySelectorAll("li.milestone")[Number(milestone[1])];
        const name = { title: "ms_title", due: "ms_due", done_on: "ms_done" }[milestone[2]];
        const input = row?.querySelector(`input[name="${name}"]`);
        if (input) {
          const message = document.createElement("p");
          message.className = "field-error js-error";
          message.setAttribute("role", "alert");
          message.textContent = err.message;
          input.setAttribute("aria-invalid", "true");
          input.insertAdjacentElement("afterend", message);
          input.focus();
          return;
        }
      }
      showFormError(form, err);
    }
  });
}

bindPoamItem();
bindObjectives();
bindForms();
