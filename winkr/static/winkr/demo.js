// The live demo (/demo/): a client of winkr's public API and sockets, as a phone would be. No build step.
//
// Per tab (one tab = one device) it keeps in sessionStorage: the tokens, the chat log, and the chat and
// notification cursors. After a reload or a dropped connection it reconnects with ?since=<cursor>, so the
// server replays exactly what this device missed; the page renders every frame it gets (no client-side
// de-duplication), so a duplicate from the server would show.
"use strict";

(() => {
  const STORE_KEY = "winkr-demo";
  const LOG_LIMIT = 200;
  const $ = (id) => document.getElementById(id);
  const wsBase = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;

  let state = load();
  let chat = null;          // WebSocket on ws/chat/
  let notify = null;        // WebSocket on ws/notifications/
  let leaving = false;      // this tab is logging out: its own sockets' 4401 is expected
  let dropped = false;      // the user pressed "Drop the connection"
  let retry = 0;            // reconnect backoff step
  let presenceTimer = null;
  const pending = new Map(); // client_id -> text, until the ack arrives

  function load() {
    try { return JSON.parse(sessionStorage.getItem(STORE_KEY)) || {}; } catch { return {}; }
  }
  function save() { sessionStorage.setItem(STORE_KEY, JSON.stringify(state)); }

  function show(id, text) { const el = $(id); el.textContent = text; el.hidden = !text; }
  function badge(id, text, cls) { const el = $(id); el.textContent = text; el.className = `badge ${cls}`; }

  // --- HTTP -------------------------------------------------------------------------------------
  async function api(method, path, body, { auth = true, retried = false } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && state.access) headers.Authorization = `Bearer ${state.access}`;
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit",
    });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 401 && auth) {
      if (!retried && data && data.code === "token_not_valid" && state.refresh && await refreshTokens()) {
        return api(method, path, body, { auth, retried: true });
      }
      signedOut(`Signed out: the API answered 401 (${(data && data.code) || "unauthorized"}).`);
      throw new Error("unauthorized");
    }
    if (!response.ok) {
      const detail = data ? (data.detail || Object.entries(data).map(([k, v]) => `${k}: ${v}`).join("; ")) : "";
      throw new Error(`${response.status} ${detail}`.trim());
    }
    return data;
  }

  async function refreshTokens() {
    const response = await fetch("/api/auth/token/refresh/", {
      method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit",
      body: JSON.stringify({ refresh: state.refresh }),
    });
    if (!response.ok) return false;
    const data = await response.json();
    Object.assign(state, { access: data.access, refresh: data.refresh });
    save();
    return true;
  }

  function accessExpiresIn() {
    try {
      const payload = JSON.parse(atob(state.access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      return payload.exp - Date.now() / 1000;
    } catch { return 0; }
  }

  // --- Account ----------------------------------------------------------------------------------
  async function logIn(register) {
    show("error", "");
    const username = $("username").value.trim();
    const password = $("password").value;
    try {
      if (register) await api("POST", "/api/auth/register/", { username, password }, { auth: false });
      const tokens = await api("POST", "/api/auth/token/", {
        username, password, device: { device_type: "browser", device_id: `demo-${crypto.randomUUID()}` },
      }, { auth: false });
      state = { access: tokens.access, refresh: tokens.refresh, log: [], notifications: [] };
      const me = await api("GET", "/api/auth/me/");
      state.me = { id: me.id, username: me.username };
      save();
      $("password").value = "";
      start();
    } catch (error) {
      show("error", `Could not log in: ${error.message}`);
    }
  }

  async function logOut(everywhere) {
    leaving = true;
    try {
      if (everywhere) {
        const data = await api("POST", "/api/auth/logout-all/", {});
        finish(`Logged out everywhere: ${data.sessions_ended} session(s) ended. Your other tabs' sockets close with 4401.`, "info");
      } else {
        await api("POST", "/api/auth/logout/", {});
        finish("Logged out on this device.", "info");
      }
    } catch (error) {
      leaving = false;
      show("error", `Logout failed: ${error.message}`);
    }
  }

  function signedOut(message) {
    if (leaving || !state.access) return;
    finish(message, "");
  }

  function finish(message, kind) {
    closeSockets();
    clearInterval(presenceTimer);
    state = {};
    save();
    const banner = $("signed-out");
    banner.className = `banner ${kind}`;
    show("signed-out", message);
    $("app").hidden = true;
    $("whoami").hidden = true;
    $("auth-form").hidden = false;
    leaving = false;
  }

  // --- Devices ----------------------------------------------------------------------------------
  async function loadDevices() {
    const sessions = await api("GET", "/api/sessions/");
    const body = $("devices");
    body.replaceChildren();
    for (const session of sessions) {
      const row = document.createElement("tr");
      row.className = "device";
      row.dataset.id = session.id;
      const device = session.device || {};
      const name = [device.browser, device.os].filter(Boolean).join(" on ") || device.device_type || "device";
      for (const text of [`${name}${session.current ? " (this tab)" : ""}`, session.kind,
        new Date(session.last_activity).toLocaleTimeString()]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      const cell = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary revoke";
      button.textContent = "Revoke";
      button.addEventListener("click", async () => {
        await api("DELETE", `/api/sessions/${encodeURIComponent(session.id)}/`);
        if (!session.current) await loadDevices();
      });
      cell.append(button);
      row.append(cell);
      body.append(row);
    }
  }

  // --- Someone else: presence and likes ---------------------------------------------------------
  function watch(partnerId) {
    state.partner = partnerId;
    save();
    $("partner").value = partnerId;
    $("like").disabled = false;
    $("send").disabled = !(chat && chat.readyState === WebSocket.OPEN);
    clearInterval(presenceTimer);
    pollPresence();
    presenceTimer = setInterval(pollPresence, 2000);
  }

  async function pollPresence() {
    if (!state.partner) return;
    try {
      const presence = await api("GET", `/api/users/${state.partner}/presence/`);
      badge("presence", presence.online ? "online" : "offline", presence.online ? "online" : "offline");
      $("last-seen").textContent = presence.last_seen ? `last seen ${new Date(presence.last_seen).toLocaleTimeString()}` : "";
    } catch (error) {
      badge("presence", error.message.startsWith("404") ? "no such user" : "unknown", "");
    }
  }

  async function like() {
    try {
      const result = await api("POST", `/api/matches/${state.partner}/like/`, {});
      $("like-result").textContent = result.match ? "You like each other: a match!" : "Liked. A like back is a match.";
    } catch (error) {
      $("like-result").textContent = `Like failed: ${error.message}`;
    }
  }

  // --- Sockets ----------------------------------------------------------------------------------
  async function openSockets() {
    if (accessExpiresIn() < 30 && !(await refreshTokens())) {
      signedOut("Signed out: the session could not be refreshed.");
      return;
    }
    openChat();
    openNotifications();
  }

  function closeSockets() {
    for (const socket of [chat, notify]) if (socket) { socket.onclose = null; socket.close(1000); }
    chat = notify = null;
    badge("chat-state", "closed", "closed");
    badge("notify-state", "closed", "closed");
    $("send").disabled = true;
  }

  function socket(path, since, onFrame, stateId) {
    const query = since ? `?since=${encodeURIComponent(since)}` : "";
    // The token rides in the subprotocol list, not the URL, so it stays out of access logs.
    const ws = new WebSocket(`${wsBase}${path}${query}`, ["bearer", state.access]);
    ws.onopen = () => {
      retry = 0;
      badge(stateId, "open", "open");
      if (ws === chat) $("send").disabled = !state.partner;
    };
    ws.onmessage = (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      onFrame(frame);
    };
    ws.onclose = (event) => {
      badge(stateId, `closed (${event.code})`, "closed");
      if (ws === chat) $("send").disabled = true;
      if (event.code === 4401) {
        signedOut("This device was signed out: the server closed the socket with 4401 "
          + "(logged out everywhere, or this session was revoked).");
        return;
      }
      if (dropped || leaving || !state.access) return;
      // A lost connection: come back with the cursor, with a capped backoff.
      const delay = Math.min(1000 * 2 ** retry++, 15000);
      setTimeout(() => { if (!dropped && state.access) openSockets(); }, delay);
    };
    return ws;
  }

  function openChat() {
    if (chat) { chat.onclose = null; chat.close(1000); }
    chat = socket("/ws/chat/", state.cursor, onChatFrame, "chat-state");
  }

  function openNotifications() {
    if (notify) { notify.onclose = null; notify.close(1000); }
    notify = socket("/ws/notifications/", state.notifySince, onNotificationFrame, "notify-state");
  }

  function onChatFrame(frame) {
    if (frame.type === "chat.message") {
      remember({ id: frame.id, from: frame.from, to: frame.to, text: frame.text });
      advance(frame.cursor);
    } else if (frame.type === "chat.ack") {
      const text = pending.get(frame.client_id);
      pending.delete(frame.client_id);
      if (text !== undefined && !frame.duplicate) {
        remember({ id: frame.id, from: state.me.id, to: Number(state.partner), text });
      }
      advance(frame.cursor);
    } else if (frame.type === "chat.synced") {
      $("chat-info").textContent = `Replayed ${frame.count} missed message(s).`;
      advance(frame.cursor);
    } else if (frame.type === "chat.resync_required") {
      $("chat-info").textContent = "Some history is older than the stream keeps: fetch it over REST.";
    } else if (frame.type === "error") {
      show("error", `Chat: ${frame.code}: ${frame.detail}`);
    }
  }

  function onNotificationFrame(frame) {
    if (frame.type === "notification") {
      state.notifications = [...(state.notifications || []), { id: frame.id, kind: frame.kind, title: frame.title }]
        .slice(-LOG_LIMIT);
      state.notifySince = frame.id;
      save();
      renderNotification(frame);
    }
  }

  function advance(cursor) {
    if (cursor) { state.cursor = cursor; save(); }
  }

  function remember(message) {
    state.log = [...(state.log || []), message].slice(-LOG_LIMIT);
    save();
    renderMessage(message);
  }

  function renderMessage(message) {
    const item = document.createElement("li");
    const mine = String(message.from) === String(state.me.id);
    item.className = `msg${mine ? " mine" : ""}`;
    item.dataset.id = message.id;
    item.textContent = `${mine ? "you" : `user ${message.from}`}: ${message.text}`;
    $("messages").append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  function renderNotification(notification) {
    const item = document.createElement("li");
    item.className = `notification kind-${notification.kind}`;
    item.dataset.kind = notification.kind;
    item.textContent = notification.kind === "match" ? `It's a match! ${notification.title}` : notification.title;
    $("notifications").append(item);
  }

  function send(text) {
    const clientId = crypto.randomUUID();
    pending.set(clientId, text);
    chat.send(JSON.stringify({ type: "chat.message", to: Number(state.partner), text, client_id: clientId }));
  }

  function toggleDrop() {
    dropped = !dropped;
    $("drop").textContent = dropped ? "Reconnect" : "Drop the connection";
    if (dropped) {
      closeSockets();
    } else {
      openSockets();
    }
  }

  // --- Wiring -----------------------------------------------------------------------------------
  function start() {
    show("signed-out", "");
    $("auth-form").hidden = true;
    $("whoami").hidden = false;
    $("app").hidden = false;
    $("me-name").textContent = state.me.username;
    $("me-id").textContent = state.me.id;
    $("messages").replaceChildren();
    $("notifications").replaceChildren();
    (state.log || []).forEach(renderMessage);
    (state.notifications || []).forEach(renderNotification);
    if (state.partner) watch(state.partner);
    loadDevices().catch((error) => show("error", `Devices: ${error.message}`));
    openSockets();
  }

  $("auth-form").addEventListener("submit", (event) => { event.preventDefault(); logIn(false); });
  $("register").addEventListener("click", () => { if ($("auth-form").reportValidity()) logIn(true); });
  $("logout").addEventListener("click", () => logOut(false));
  $("logout-all").addEventListener("click", () => logOut(true));
  $("refresh-devices").addEventListener("click", () => loadDevices());
  $("partner-form").addEventListener("submit", (event) => { event.preventDefault(); watch($("partner").value); });
  $("like").addEventListener("click", like);
  $("drop").addEventListener("click", toggleDrop);
  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value.trim();
    if (!text || !chat || chat.readyState !== WebSocket.OPEN) return;
    send(text);
    $("text").value = "";
  });

  if (state.access && state.me) start();
})();
