// The appliance administrator's jobs and mail pages. Jobs: "Run now" runs a job through
// the API, then shows the page again with its outcome.
"use strict";
for (const button of document.querySelectorAll("button[data-run]")) {
  button.addEventListener("click", async () => {
    const status = document.getElementById("status");
    button.disabled = true;
    status.textContent = `Running ${button.dataset.run}…`;
    try {
      await call("POST", `/api/v1/admin/jobs/${encodeURIComponent(button.dataset.run)}/run`);
      location.reload();
    } catch (err) {
      status.textContent = err.message;
      button.disabled = false;
    }
  });
}

// The mail outbox page: "Retry" queues a failed message again.
for (const button of document.querySelectorAll("button[data-retry]")) {
  button.addEventListener("click", async () => {
    const status = document.getElementById("status");
    button.disabled = true;
    try {
      await call("POST", `/api/v1/admin/mail/outbox/${encodeURIComponent(button.dataset.retry)}/retry`);
      location.reload();
    } catch (err) {
      status.textContent = err.message;
      button.disabled = false;
    }
  });
}
