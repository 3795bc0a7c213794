// pop3srv admin page: what every panel shares. API calls (same origin, session cookie, CSRF
// header), error lines, table cells that become labelled cards on narrow screens, and the
// confirmation dialog. Data from the server only ever reaches the page through textContent.
"use strict";

window.pop3admin = (function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, path, body) {
    const options = {
      method,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const message = data && data.error ? data.error : `HTTP ${response.status}`;
      throw new Error(message);
    }
    return data;
  }

  function showError(id, message) {
    const element = document.getElementById(id);
    if (!element) return;
    element.textContent = message || "";
    element.hidden = !message;
  }

  function note(id, message) {
    const element = document.getElementById(id);
    if (element) element.textContent = message || "";
  }

  function time(seconds) {
    return seconds === null || seconds === undefined ? "—" : new Date(seconds * 1000).toLocaleTimeString();
  }

  function dateTime(seconds) {
    return seconds === null || seconds === undefined ? "never" : new Date(seconds * 1000).toLocaleString();
  }

  // A cell labelled with its column's heading (shown before the value when rows are cards).
  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function label(tbody, row) {
    const headings = tbody.closest("table").querySelectorAll("thead th");
    row.querySelectorAll("td").forEach((td, index) => {
      const heading = headings[index];
      if (heading) td.dataset.label = heading.textContent.trim();
    });
    return row;
  }

  function button(text, className, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = className;
    element.textContent = text;
    element.addEventListener("click", onClick);
    return element;
  }

  // Fill a table body with rows (already labelled), toggling its "empty" hint.
  function fill(tbodyId, emptyId, rows) {
    const tbody = document.getElementById(tbodyId);
    tbody.replaceChildren(...rows.map((row) => label(tbody, row)));
    const empty = document.getElementById(emptyId);
    if (empty) empty.hidden = rows.length > 0;
  }

  // Ask before a destructive action; resolves true on "Confirm". Esc or Cancel say no.
  const dialog = document.getElementById("confirm");
  function confirmAction(text, okLabel) {
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm-ok").textContent = okLabel || "Confirm";
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
      document.getElementById("confirm-cancel").focus();
    });
  }

  return { api, showError, note, time, dateTime, cell, button, fill, label, confirmAction };
})();
