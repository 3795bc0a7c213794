// pop3srv admin page: the live sessions table (websocket, no polling), ending sessions (with
// confirmation), and the minting forms. Shared helpers are in common.js.
"use strict";

(function () {
  const { api, showError, note, time, cell, button, fill, confirmAction } = window.pop3admin;
  const sessions = new Map(); // id -> session object, as the server sent it

  // ---- live sessions ----

  const status = document.getElementById("live-status");

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function renderRow(session) {
    const row = document.createElement("tr");
    row.dataset.sessionId = session.id;
    cell(row, session.id);
    cell(row, session.peer);
    cell(row, session.listener);
    cell(row, session.user === null ? "—" : session.user, "user");
    cell(row, session.mailbox === null ? "—" : session.mailbox, "mailbox");
    cell(row, session.state, "state");
    cell(row, time(session.since));
    cell(row, session.commands);
    cell(row, session.bytes_sent);
    cell(row, time(session.last_activity));
    const action = cell(row, "", "actions");
    const end = button("End session", "end-session danger", () => endSession(session, end));
    action.appendChild(end);
    if (session.mailbox) {
      const all = button("End all of mailbox", "end-mailbox danger", () => endMailbox(session.mailbox));
      action.appendChild(all);
    }
    return row;
  }

  function render() {
    const ids = [...sessions.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    fill("sessions-body", "no-sessions", ids.map((id) => renderRow(sessions.get(id))));
  }

  async function endSession(session, control) {
    const who = session.user ? ` (${session.user} from ${session.peer})` : ` (${session.peer})`;
    const ok = await confirmAction(`End session ${session.id}${who}? Nothing it marked for deletion is deleted.`, "End session");
    if (!ok) return;
    control.disabled = true;
    try {
      await api("DELETE", `/api/sessions/${encodeURIComponent(session.id)}`);
      showError("sessions-error", "");
      note("sessions-note", `Ended ${session.id}.`);
      document.dispatchEvent(new CustomEvent("pop3admin:changed"));
    } catch (error) {
      control.disabled = false;
      showError("sessions-error", `Could not end ${session.id}: ${error.message}`);
    }
  }

  async function endMailbox(mailbox) {
    const ok = await confirmAction(`End every session holding mailbox ${mailbox}?`, "End sessions");
    if (!ok) return;
    try {
      const result = await api("DELETE", `/api/sessions?mailbox=${encodeURIComponent(mailbox)}`);
      showError("sessions-error", "");
      note("sessions-note", result.ended.length ? `Ended ${result.ended.join(", ")}.` : `No live session holds ${mailbox}.`);
      document.dispatchEvent(new CustomEvent("pop3admin:changed"));
    } catch (error) {
      showError("sessions-error", `Could not end the sessions of ${mailbox}: ${error.message}`);
    }
  }

  const kickForm = document.getElementById("kick-mailbox-form");
  kickForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const mailbox = kickForm.elements.mailbox.value.trim();
    if (mailbox) endMailbox(mailbox);
  });

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
      if (event.code === 1008) {  // the admin session ended (logout in another tab, expiry)
        setStatus("down", "logged out");
        window.location.assign("/login");
        return;
      }
      const why = event.code === 1001 ? "server going away" : "disconnected";
      setStatus("down", `${why}; reconnecting…`);
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    });
  }

  // ---- minting ----

  const result = document.getElementById("result");
  const secret = document.getElementById("result-secret");

  function showResult(password, user, expiresAt, tokenLabel) {
    secret.textContent = password;
    document.getElementById("result-label").textContent = tokenLabel || "—";
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
    const tokenLabel = form.elements.label.value.trim();
    if (tokenLabel !== "") request.label = tokenLabel;
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
        showResult(minted.token, suggestedUser(request), minted.expires_at, request.label);
        mintForm.elements.label.value = "";
        document.dispatchEvent(new CustomEvent("pop3admin:changed"));
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
        showResult(minted.password, minted.mailbox, null, "app password");
        document.dispatchEvent(new CustomEvent("pop3admin:changed"));
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
