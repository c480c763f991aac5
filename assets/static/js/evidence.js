// Evidence pages: uploads with a progress bar (the raw file as the request body, so it
// streams), metadata, share links, bin. Everything goes through Rampart's JSON API.
"use strict";

function say(text) {
  const el = document.getElementById("status");
  if (el) el.textContent = text;
}

const list = (text) => (text || "").split(",").map((s) => s.trim()).filter(Boolean);

// XMLHttpRequest, not fetch: only it reports upload progress.
function send(url, file) {
  const bar = document.getElementById("upload-progress");
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => {
      if (bar && e.lengthComputable) {
        bar.hidden = false;
        bar.value = Math.round((100 * e.loaded) / e.total);
      }
    };
    xhr.onload = () => {
      let json = null;
      try { json = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(json);
      else reject(new Error(json?.error?.message || `upload failed (${xhr.status})`));
    };
    xhr.onerror = () => reject(new Error("the upload broke off"));
    xhr.send(file);
  });
}

function onSubmit(id, handler) {
  const form = document.getElementById(id);
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await handler(form);
    } catch (err) {
      // A refused upload keeps the form as it was, with the bar back at zero.
      const bar = document.getElementById("upload-progress");
      if (bar) { bar.value = 0; bar.hidden = true; }
      say(err.message);
    }
  });
}

onSubmit("upload", async (form) => {
  const file = document.getElementById("evidence-file").files[0];
  if (!file) return say("Choose a file first.");
  const query = new URLSearchParams({ filename: file.name });
  const data = new FormData(form);
  for (const key of ["title", "requirements", "review_by"]) {
    const value = (data.get(key) || "").trim();
    if (value) query.set(key, value);
  }
  say("Uploading…");
  await send(`/api/v1/orgs/${form.dataset.org}/evidence?${query}`, file);
  window.location.reload();
});

onSubmit("new-version", async (form) => {
  const file = document.getElementById("evidence-file").files[0];
  if (!file) return say("choose a file first");
  const query = new URLSearchParams({ filename: file.name });
  await send(`/api/v1/orgs/${form.dataset.org}/evidence/${form.dataset.id}/versions?${query}`, file);
  window.location.reload();
});

onSubmit("metadata", async (form) => {
  const data = new FormData(form);
  const current = await call("GET", `/api/v1/orgs/${form.dataset.org}/evidence/${form.dataset.id}`);
  await call("PUT", `/api/v1/orgs/${form.dataset.org}/evidence/${form.dataset.id}`, {
    title: data.get("title"),
    description: data.get("description"),
    owner: current.owner,
    tags: list(data.get("tags")),
    requirements: list(data.get("requirements")),
    objectives: list(data.get("objectives")),
    effective: data.get("effective") || null,
    review_by: data.get("review_by") || null,
  });
  say("saved");
});

onSubmit("new-link", async (form) => {
  const data = new FormData(form);
  const link = await call("POST", `/api/v1/orgs/${form.dataset.org}/evidence/${form.dataset.id}/links`, {
    expires_in_days: Number(data.get("expires_in_days")),
    single_use: data.get("single_use") === "on",
  });
  document.getElementById("link-url").textContent = link.url;
});

document.querySelectorAll(".revoke-link").forEach((button) => {
  button.addEventListener("click", async () => {
    const { org, id, link } = button.dataset;
    await call("DELETE", `/api/v1/orgs/${org}/evidence/${id}/links/${link}`);
    window.location.reload();
  });
});

for (const [id, method, suffix] of [["delete", "DELETE", ""], ["restore", "POST", "/restore"]]) {
  const button = document.getElementById(id);
  if (!button) continue;
  button.addEventListener("click", async () => {
    await call(method, `/api/v1/orgs/${button.dataset.org}/evidence/${button.dataset.id}${suffix}`);
    window.location.reload();
  });
}
