// The security dashboard refreshes its figures every 10 seconds from the JSON route named in
// #security[data-source], in place: counts, bars, time labels and the latest events. The page
// is complete without this script; it only keeps the figures current. Text from the log
// (user agents, targets) goes in with textContent, never as HTML.
"use strict";

(function () {
  const root = document.getElementById("security");
  if (!root) {
    return;
  }
  const source = root.dataset.source;
  const news = document.getElementById("security-news");
  const updated = document.getElementById("security-updated");
  let latestSeq = Number(root.dataset.latestSeq || "0");
  let timer = null;
  const AGENT_CHARS = 40;

  // The same formats the server renders: "2026-11-23 14:05:09 UTC".
  function utc(seconds) {
    const iso = new Date(seconds * 1000).toISOString();
    return { shown: iso.slice(0, 10) + " " + iso.slice(11, 19) + " UTC", machine: iso.slice(0, 19) + "Z" };
  }

  // A bar's width class: 0 for none, else 1 to 10 against the column's largest count.
  function level(count, max) {
    if (count === 0 || max === 0) {
      return 0;
    }
    return Math.min(10, Math.ceil((count * 10) / max));
  }

  function shorten(text, chars) {
    const letters = Array.from(text);
    return letters.length <= chars ? text : letters.slice(0, chars).join("") + "\u2026";
  }

  function actorLabel(event) {
    if (event.actor_email) {
      return event.actor_email;
    }
    switch (event.actor.kind) {
      case "account":
        return "account " + event.actor.id;
      case "operator":
        return "operator (command line)";
      case "system":
        return "Rampart";
      default:
        return "anonymous";
    }
  }

  function setText(element, text) {
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  function updateTotals(series) {
    for (const entry of series) {
      for (const period of ["last_24h", "last_14d"]) {
        const cell = root.querySelector('[data-total="' + entry.category + '"][data-period="' + period + '"]');
        setText(cell, String(entry[period]));
      }
    }
  }

  // One table of buckets: a row per hour or day, a cell per category.
  function updateChart(tbodyId, starts, series, key, label) {
    const tbody = document.getElementById(tbodyId);
    if (!tbody) {
      return;
    }
    const maxima = series.map((entry) => Math.max(0, ...entry[key]));
    starts.forEach((start, row) => {
      const tr = tbody.rows[row];
      if (!tr) {
        return;
      }
      setText(tr.querySelector("th"), label(start));
      series.forEach((entry, column) => {
        const cell = tr.querySelector('td[data-series="' + column + '"]');
        if (!cell) {
          return;
        }
        const count = entry[key][row] || 0;
        setText(cell.querySelector(".count"), String(count));
        const bar = cell.querySelector(".bar");
        if (bar) {
          bar.className = "bar lvl-" + level(count, maxima[column]);
        }
      });
    });
  }

  function cell(text, title) {
    const td = document.createElement("td");
    td.textContent = text;
    if (title) {
      td.title = title;
    }
    return td;
  }

  function recentRow(event) {
    const tr = document.createElement("tr");
    const when = document.createElement("td");
    const time = document.createElement("time");
    const at = utc(event.time);
    time.dateTime = at.machine;
    time.textContent = at.shown;
    when.append(time);
    const action = document.createElement("td");
    const code = document.createElement("code");
    code.textContent = event.action;
    action.append(code);
    const outcome = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "outcome outcome-" + event.outcome;
    badge.textContent = event.outcome;
    outcome.append(badge);
    const agent = event.user_agent || "";
    const org = event.org || "";
    tr.append(
      when,
      cell(event.label),
      action,
      outcome,
      cell(actorLabel(event)),
      cell(event.ip || ""),
      cell(shorten(agent, AGENT_CHARS), agent),
      cell(org.slice(0, 8), org),
    );
    return tr;
  }

  function updateRecent(recent, labels) {
    const tbody = document.getElementById("recent");
    if (!tbody) {
      return;
    }
    tbody.replaceChildren(...recent.map(recentRow));
    const empty = document.getElementById("recent-empty");
    if (empty) {
      empty.hidden = recent.length > 0;
    }
    const fresh = recent.filter((event) => event.seq > latestSeq);
    if (fresh.length > 0) {
      const kinds = [...new Set(fresh.map((event) => labels[event.category] || event.category))];
      const noun = fresh.length === 1 ? "new security event" : "new security events";
      setText(news, fresh.length + " " + noun + ": " + kinds.join(", ") + ".");
      latestSeq = Math.max(...fresh.map((event) => event.seq));
    }
  }

  function render(data) {
    const labels = {};
    for (const entry of data.series) {
      labels[entry.category] = entry.label;
    }
    updateTotals(data.series);
    updateChart("hourly-rows", data.hours, data.series, "hourly", (start) => utc(start).shown.slice(0, 16));
    updateChart("daily-rows", data.days, data.series, "daily", (start) => utc(start).shown.slice(0, 10));
    updateRecent(data.recent, labels);
    setText(updated, utc(data.generated_at).shown);
  }

  async function refresh() {
    if (document.hidden) {
      return;
    }
    try {
      const response = await fetch(source, {
        credentials: "same-origin",
        cache: "no-store",
        // A refresh is not the person doing something: it must not keep the session alive.
        headers: { accept: "application/json", "x-rampart-background": "1" },
      });
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        // Signed out, or access withdrawn: stop asking, and say why once.
        window.clearInterval(timer);
        setText(news, "The figures are no longer refreshing: sign in again to see current ones.");
        return;
      }
      if (!response.ok) {
        return;
      }
      render(await response.json());
    } catch (_) {
      // A network blip: the next tick tries again.
    }
  }

  timer = window.setInterval(refresh, 10000);
})();
