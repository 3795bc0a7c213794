// pop3srv admin page: the operator's panels. Overview (facts and small live charts drawn as
// plain SVG from /api/overview), security (failed logins, delayed addresses, forgive), the
// token registry (revoke tokens and app passwords) and the audit trail. Polled every few
// seconds; every destructive action asks first.
"use strict";

(function () {
  const { api, showError, note, time, dateTime, cell, button, fill, confirmAction } = window.pop3admin;
  const SVG = "http://www.w3.org/2000/svg";
  const POLL_MS = 5000;

  // ---- overview ----

  function duration(seconds) {
    const s = Math.floor(seconds);
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (d) return `${d} d ${h} h`;
    if (h) return `${h} h ${m} min`;
    return `${m} min ${s % 60} s`;
  }

  function amount(value) {
    if (value >= 1e6) return `${(value / 1e6).toFixed(1)} M`;
    if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
    return value >= 10 || value === 0 ? String(Math.round(value)) : value.toFixed(1);
  }

  // A sparkline: the values as a line over a filled area, scaled to the box (300 x 60).
  function chart(id, samples) {
    const svg = document.getElementById(id);
    const values = samples.length === 1 ? [samples[0], samples[0]] : samples; // a level line
    const width = 300;
    const height = 60;
    const top = Math.max(1, ...values);
    const step = values.length > 1 ? width / (values.length - 1) : width;
    const points = values.map((v, i) => [i * step, height - 2 - (v / top) * (height - 6)]);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "));
    line.setAttribute("class", "line");
    const area = document.createElementNS(SVG, "polygon");
    const floor = points.length ? [[points[points.length - 1][0], height], [0, height]] : [];
    area.setAttribute("points", [...points, ...floor].map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "));
    area.setAttribute("class", "area");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `peak ${amount(top)}`;
    svg.replaceChildren(title, area, line);
  }

  async function loadOverview() {
    const data = await api("GET", "/api/overview");
    document.getElementById("ov-version").textContent = data.version;
    document.getElementById("ov-uptime").textContent =
      `${dateTime(data.started_at)} (${duration(data.uptime_seconds)})`;
    const listeners = Object.entries(data.listeners)
      .filter(([, addresses]) => addresses.length)
      .map(([kind, addresses]) => `${kind} ${addresses.join(", ")}`);
    document.getElementById("ov-listeners").textContent = listeners.join(" · ") || "—";
    const store = document.getElementById("ov-store");
    store.textContent = data.store.last_error
      ? `last error: ${data.store.last_error} at ${dateTime(data.store.last_error_at)}`
      : "no errors";
    store.className = data.store.last_error ? "warning" : "";
    document.getElementById("ov-sessions").textContent = String(data.sessions);
    const history = data.history;
    const series = {
      sessions: history.map((p) => p.sessions),
      logins: history.map((p) => p.logins_per_minute),
      failures: history.map((p) => p.failures_per_minute),
      bytes: history.map((p) => p.bytes_per_second),
    };
    for (const [name, values] of Object.entries(series)) {
      chart(`chart-${name}`, values);
      const last = values.length ? values[values.length - 1] : 0;
      document.getElementById(`now-${name}`).textContent = `now ${amount(last)}`;
    }
  }

  // ---- security ----

  async function forgive(address, control) {
    if (!(await confirmAction(`Forgive ${address}? Its login delay ends now.`, "Forgive"))) return;
    control.disabled = true;
    try {
      await api("DELETE", `/api/penalties/${encodeURIComponent(address)}`);
      showError("security-error", "");
      await refreshAll();
    } catch (error) {
      control.disabled = false;
      showError("security-error", `Could not forgive ${address}: ${error.message}`);
    }
  }

  async function loadSecurity() {
    const data = await api("GET", "/api/security");
    fill("delayed-body", "no-delayed", data.delayed.map((entry) => {
      const row = document.createElement("tr");
      row.dataset.address = entry.address;
      cell(row, entry.address, "address");
      cell(row, `${entry.delay_seconds} s`);
      cell(row, entry.failures);
      const action = cell(row, "", "actions");
      const control = button("Forgive", "forgive secondary", () => forgive(entry.address, control));
      action.appendChild(control);
      return row;
    }));
    fill("failed-body", "no-failed", data.failed_logins.map((failure) => {
      const row = document.createElement("tr");
      cell(row, time(failure.time));
      cell(row, failure.address);
      cell(row, failure.user || "—", "user");
      cell(row, failure.method);
      cell(row, failure.reason, "reason");
      return row;
    }));
  }

  // ---- token registry ----

  async function revoke(token, control) {
    const name = token.label ? `“${token.label}” (${token.mailbox})` : `the token for ${token.mailbox}`;
    if (!(await confirmAction(`Revoke ${name}? It stops working at once and its sessions end.`, "Revoke"))) return;
    control.disabled = true;
    try {
      const result = await api("DELETE", `/api/tokens/${encodeURIComponent(token.jti)}`);
      showError("tokens-error", "");
      note("tokens-note", `Revoked ${token.jti}` + (result.sessions_ended.length ? `; ended ${result.sessions_ended.join(", ")}.` : "."));
      await refreshAll();
    } catch (error) {
      control.disabled = false;
      showError("tokens-error", `Could not revoke: ${error.message}`);
    }
  }

  function status(token) {
    if (token.revoked_at !== null) return `revoked ${dateTime(token.revoked_at)}`;
    if (token.expires_at !== null && token.expires_at * 1000 < Date.now()) return "expired";
    return "active";
  }

  async function loadTokens() {
    const tokens = await api("GET", "/api/tokens");
    fill("tokens-body", "no-tokens", tokens.map((token) => {
      const row = document.createElement("tr");
      row.dataset.jti = token.jti;
      cell(row, token.label || "—", "label");
      cell(row, token.mailbox);
      cell(row, dateTime(token.created_at));
      cell(row, dateTime(token.expires_at));
      cell(row, status(token), "token-status");
      cell(row, token.jti, "jti");
      const action = cell(row, "", "actions");
      if (token.revoked_at === null) {
        const control = button("Revoke", "revoke danger", () => revoke(token, control));
        action.appendChild(control);
      }
      return row;
    }));
  }

  const appRevoke = document.getElementById("app-revoke-form");
  if (appRevoke) {
    appRevoke.addEventListener("submit", async (event) => {
      event.preventDefault();
      const mailbox = appRevoke.elements.mailbox.value;
      if (!(await confirmAction(`Revoke every app password of ${mailbox}? Its app-password sessions end; mint a new one afterwards.`, "Revoke"))) return;
      try {
        const result = await api("POST", `/api/app-passwords/${encodeURIComponent(mailbox)}/revoke`);
        showError("tokens-error", "");
        note("tokens-note", `App passwords of ${mailbox} revoked (now version ${result.version}).`);
        await refreshAll();
      } catch (error) {
        showError("tokens-error", `Could not revoke: ${error.message}`);
      }
    });
  }

  // ---- audit ----

  async function loadAudit() {
    const entries = await api("GET", "/api/audit");
    fill("audit-body", "no-audit", entries.map((entry) => {
      const row = document.createElement("tr");
      cell(row, time(entry.time));
      cell(row, entry.action, "action");
      cell(row, entry.admin);
      cell(row, entry.target, "target");
      cell(row, entry.outcome, "outcome");
      cell(row, entry.detail);
      return row;
    }));
  }

  // ---- polling ----

  async function refreshAll() {
    const results = await Promise.allSettled([loadOverview(), loadSecurity(), loadTokens(), loadAudit()]);
    const failed = results.find((r) => r.status === "rejected");
    showError("security-error", failed ? `Could not refresh: ${failed.reason.message}` : "");
  }

  document.addEventListener("pop3admin:changed", refreshAll);
  refreshAll();
  setInterval(refreshAll, POLL_MS);
})();
