// The documents page: system description, generating documents and proofpacks (with
// progress), exports and imports with a preview. Everything goes through the JSON API.
"use strict";

function say(text) {
  const el = document.getElementById("status");
  if (el) el.textContent = text;
}

const orgId = () => document.getElementById("versions")?.dataset.org;
const assessmentId = () => document.getElementById("assessment")?.value;
const base = () => `/api/v1/orgs/${orgId()}/assessments/${assessmentId()}`;

// Export links follow the chosen assessment.
function pointExports() {
  for (const link of document.querySelectorAll("a[data-export]")) {
    link.href = `${base()}/${link.dataset.export}`;
  }
}
document.getElementById("assessment")?.addEventListener("change", pointExports);
if (assessmentId()) pointExports();

// Reload the list (the server renders it) once nothing is building; poll while something is.
function watchBuilds() {
  const building = document.querySelector('#versions tr[data-state="building"]');
  if (!building) return;
  window.setTimeout(async () => {
    try {
      const version = await call("GET", `/api/v1/orgs/${orgId()}/documents/${building.dataset.id}`);
      if (version.state !== "building") {
        window.location.reload();
        return;
      }
      const bar = building.querySelector("progress");
      if (bar && version.progress) {
        bar.max = version.progress.total;
        bar.value = version.progress.done;
      }
    } catch (err) {
      say(err.message);
    }
    watchBuilds();
  }, 1000);
}
watchBuilds();

const marking = () => (document.getElementById("marking")?.value || "").trim();

for (const button of document.querySelectorAll("button[data-make]")) {
  button.addEventListener("click", async () => {
    const [path, query] = button.dataset.make.split("?");
    const params = new URLSearchParams(query || "");
    if (marking()) params.set("marking", marking());
    say("generating…");
    try {
      await call("POST", `${base()}/${path}?${params}`);
      window.location.reload();
    } catch (err) {
      say(err.message);
    }
  });
}

document.getElementById("build-proofpack")?.addEventListener("click", async () => {
  const recipient = (document.getElementById("recipient")?.value || "").trim();
  const body = {};
  if (recipient) body.recipient = recipient;
  if (marking()) body.marking = marking();
  say("building the proofpack…");
  try {
    await call("POST", `${base()}/proofpack`, body);
    window.location.reload();
  } catch (err) {
    say(err.message);
  }
});

// Imports: preview first (nothing changes), then apply the same file.
async function upload(apply) {
  const file = document.getElementById("import-file").files[0];
  if (!file) throw new Error("choose a file first");
  const source = document.getElementById("import-source").value;
  const response = await fetch(`${base()}/import/${source}?apply=${apply}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": csrfToken() },
    body: file,
  });
  const json = await response.json().catch(() => null);
  if (!response.ok) {
    const error = json?.error;
    throw new Error(error?.field ? `${error.field}: ${error.message}` : error?.message || `import failed (${response.status})`);
  }
  return json;
}

function showPreview(outcome) {
  const table = document.getElementById("import-preview");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const change of outcome.changes) {
    const row = document.createElement("tr");
    for (const text of [change.objective, change.place, change.status_before, change.status_after, change.note_after]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    body.append(row);
  }
  table.hidden = outcome.changes.length === 0;
}

document.getElementById("import")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const outcome = await upload(false);
    showPreview(outcome);
    document.getElementById("import-apply").hidden = outcome.changes.length === 0;
    say(`${outcome.changes.length} objectives would change; ${outcome.unchanged} already match.`);
  } catch (err) {
    say(err.message);
  }
});

document.getElementById("import-apply")?.addEventListener("click", async () => {
  try {
    const outcome = await upload(true);
    document.getElementById("import-apply").hidden = true;
    say(`${outcome.changes.length} objectives changed (revision ${outcome.revision ?? "unchanged"}).`);
  } catch (err) {
    say(err.message);
  }
});

document.getElementById("system")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const roles = (data.get("roles") || "")
    .split("\n")
    .map((line) => line.split("|").map((part) => part.trim()))
    .filter((parts) => parts.some(Boolean))
    .map(([title = "", name = "", contact = ""]) => ({ title, name, contact }));
  const body = { roles };
  for (const key of ["system_name", "system_id", "description", "boundary", "environment", "interconnections"]) {
    body[key] = data.get(key) || "";
  }
  try {
    await call("PUT", `/api/v1/orgs/${form.dataset.org}/system`, body);
    say("Saved.");
  } catch (err) {
    say(err.field ? `${err.field}: ${err.message}` : err.message);
  }
});
