// pop3srv admin page: the live sessions table (websocket, no polling) and the minting forms.
// Data from the server is only ever put into the page with textContent, never as HTML.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const sessions = new Map(); // id -> session object, as the server sent it

  // ---- API calls (same origin, session cookie, CSRF header) ----

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

  // ---- live sessions ----

  const body = document.getElementById("sessions-body");
  const empty = document.getElementById("no-sessions");
  const status = document.getElementById("live-status");

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function time(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString();
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function renderRow(session) {
    const row = document.createElement("tr");
    row.dataset.sessionId = session.id;
    cell(row, session.id);
    cell(row, session.peer);
    cell(row, session.listener);
    cell(row, session.user === null ? "—" : session.user).className = "user";
    cell(row, session.mailbox === null ? "—" : session.mailbox).className = "mailbox";
    cell(row, session.state).className = "state";
    cell(row, time(session.since));
    cell(row, session.commands);
    cell(row, session.bytes_sent);
    cell(row, time(session.last_activity));
    const action = cell(row, "");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "end-session danger";
    button.textContent = "End session";
    button.addEventListener("click", () => endSession(session.id, button));
    action.appendChild(button);
    return row;
  }

  function render() {
    const ids = [...sessions.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    const rows = ids.map((id) => renderRow(sessions.get(id)));
    body.replaceChildren(...rows);
    empty.hidden = rows.length > 0;
  }

  async function endSession(id, button) {
    button.disabled = true;
    try {
      await api("DELETE", `/api/sessions/${encodeURIComponent(id)}`);
      showError("sessions-error", "");
    } catch (error) {
      button.disabled = false;
      showError("sessions-error", `Could not end ${id}: ${error.message}`);
    }
  }

  function apply(message) {
    switch (message.type) {
      case "snapshot":
        sessions.clear();
        for (const session of message.sessions) sessions.set(session.id, session);
        break;
      case "open":
      case "update":
        sessions.set(message.session.id, message.session);
        break;
      case "close":
        sessions.delete(message.id);
        break;
      default:
        return;
    }
    render();
  }

  let retryDelay = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/sessions/live`);
    setStatus("connecting", "connecting…");
    socket.addEventListener("open", () => {
      retryDelay = 1000;
      setStatus("live", "live");
    });
    socket.addEventListener("message", (event) => {
      try {
        apply(JSON.parse(event.data));
      } catch (error) {
        console.error("bad live message", error);
      }
    });
    socket.addEventListener("close", (event) => {
      const why = event.code === 1001 ? "server going away" : "disconnected";
      setStatus("down", `${why}; reconnecting…`);
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    });
  }

  // ---- minting ----

  const result = document.getElementById("result");
  const secret = document.getElementById("result-secret");

  function showResult(password, user, expiresAt) {
    secret.textContent = password;
    document.getElementById("result-user").textContent = user;
    document.getElementById("result-expires").textContent =
      expiresAt === null || expiresAt === undefined ? "never" : new Date(expiresAt * 1000).toString();
    document.getElementById("copy-status").textContent = "";
    result.hidden = false;
    result.scrollIntoView({ block: "nearest" });
  }

  function forgetResult() {
    secret.textContent = "";
    document.getElementById("result-user").textContent = "";
    result.hidden = true;
  }

  async function copySecret() {
    const note = document.getElementById("copy-status");
    try {
      await navigator.clipboard.writeText(secret.textContent);
      note.textContent = "copied";
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(secret);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      note.textContent = "selected: press Ctrl+C";
    }
  }

  function selectedKind(form) {
    const checked = form.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : "s3";
  }

  function updateKind(form) {
    const kind = selectedKind(form);
    form.querySelector(".kind-mailbox").hidden = kind !== "mailbox";
    form.querySelector(".kind-s3").hidden = kind !== "s3";
  }

  function mintRequest(form) {
    const kind = selectedKind(form);
    const request = {};
    if (kind === "mailbox") {
      request.mailbox = form.elements.mailbox.value;
    } else if (kind === "s3") {
      for (const name of ["bucket", "prefix", "region", "awsAccessKeyID", "awsSecretAccessKey", "awsSessionToken"]) {
        const value = form.elements[name].value.trim();
        if (value !== "") request[name] = value;
      }
    } else {
      request.provider = kind;
    }
    const ttl = form.elements.ttl.value;
    request.ttl = ttl === "never" ? null : Number(ttl);
    return request;
  }

  function suggestedUser(request) {
    if (request.mailbox) return `${request.mailbox} (any name works with this password)`;
    if (request.bucket) return `any, e.g. ${request.bucket}`;
    return "any";
  }

  const mintForm = document.getElementById("mint-form");
  if (mintForm) {
    for (const radio of mintForm.querySelectorAll('input[name="kind"]')) {
      radio.addEventListener("change", () => updateKind(mintForm));
    }
    updateKind(mintForm);
    mintForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError("mint-error", "");
      const request = mintRequest(mintForm);
      const button = document.getElementById("mint-submit");
      button.disabled = true;
      try {
        const minted = await api("POST", "/api/tokens", request);
        mintForm.elements.awsSecretAccessKey.value = "";
        mintForm.elements.awsSessionToken.value = "";
        showResult(minted.token, suggestedUser(request), minted.expires_at);
      } catch (error) {
        showError("mint-error", error.message);
      } finally {
        button.disabled = false;
      }
    });
  }

  const appForm = document.getElementById("app-password-form");
  if (appForm) {
    appForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError("mint-error", "");
      try {
        const minted = await api("POST", "/api/app-passwords", { mailbox: appForm.elements.mailbox.value });
        showResult(minted.password, minted.mailbox, null);
      } catch (error) {
        showError("mint-error", error.message);
      }
    });
  }

  document.getElementById("copy-secret").addEventListener("click", copySecret);
  document.getElementById("result-done").addEventListener("click", forgetResult);

  render();
  connect();
})();
