// The console's one connection to the hub: the same /ws any client uses,
// signed in by the session: its cookie, which the browser sends, and its
// key, which only this origin's pages can read (browsers send a host's
// cookies to every port of it, but keep storage per origin).

const KEY = "hub-session-key";
const key = () => localStorage.getItem(KEY) ?? "";

export class HubError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export class Hub {
  constructor() {
    this.nextId = 1;
    this.waiting = new Map();
    this.listeners = new Set();
    this.onclose = () => {};
  }

  /** Opens the connection and switches it to API 2 (the hub's own types). */
  async connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.socket = new WebSocket(`${scheme}://${location.host}/ws`, [`hub-session.${key()}`]);
    this.socket.addEventListener("message", (m) => this.receive(JSON.parse(m.data)));
    this.socket.addEventListener("close", (e) => this.closed(e));
    await new Promise((resolve, reject) => {
      this.socket.addEventListener("open", resolve, { once: true });
      this.socket.addEventListener("error", () => reject(new HubError("cannot reach the hub", "offline")), { once: true });
    });
    this.hello = await this.call({ service: "hello", service_data: { api: 2 } });
    return this.hello;
  }

  /**
   * Sends one request; its result, or a HubError with the hub's message and
   * code. A streamed answer (`discover`) passes each item to `each` and
   * resolves with the closing `{"done": true}`.
   */
  call(request, each) {
    if (this.socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new HubError("the connection to the hub closed", "offline"));
    }
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, ...request }));
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject, each }));
  }

  /** Plugin management (`domain: "plugin"`). */
  manage(service, service_data = {}) {
    return this.call({ domain: "plugin", service, service_data });
  }

  /** Calls `listener` with every event; returns what stops it. */
  listen(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  receive(message) {
    if (message.type !== "response") {
      for (const listener of this.listeners) listener(message);
      return;
    }
    const waiter = this.waiting.get(message.id);
    if (!waiter) return;
    if (waiter.each && message.success && !message.result?.done) return waiter.each(message.result);
    this.waiting.delete(message.id);
    if (message.success) waiter.resolve(message.result);
    else waiter.reject(new HubError(message.error, message.code));
  }

  closed(event) {
    for (const waiter of this.waiting.values()) {
      waiter.reject(new HubError("the connection to the hub closed", "offline"));
    }
    this.waiting.clear();
    this.onclose(event);
  }
}

/** The signed-in caller, or null. */
export async function whoAmI() {
  const answer = await fetch("/session", { credentials: "same-origin", headers: { "x-hub-session-key": key() } });
  return answer.ok ? answer.json() : null;
}

export async function signIn(token) {
  const answer = await fetch("/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const body = await answer.json();
  if (!answer.ok) throw new HubError(body.error, body.code);
  localStorage.setItem(KEY, body.key);
  return body.session;
}

export async function signOut() {
  await fetch("/session", { method: "DELETE", credentials: "same-origin", headers: { "x-hub-session-key": key() } });
  localStorage.removeItem(KEY);
}

/**
 * Installs a plugin by upload: the manifest, one NUL byte, the component
 * (TOML holds no NUL); config lines `KEY=VALUE` go in a header, encoded.
 */
export async function upload(component, manifest, config) {
  const pairs = new URLSearchParams();
  for (const line of config.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf("=");
    if (at < 1) throw new HubError(`config ${line} is not KEY=VALUE`, "invalid_format");
    pairs.append(line.slice(0, at), line.slice(at + 1));
  }
  const answer = await fetch("/plugins", {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "x-hub-session-key": key(),
      "x-hub-config": pairs.toString(),
      "content-type": "application/octet-stream",
    },
    body: new Blob([manifest, new Uint8Array([0]), component]),
  });
  const report = await answer.json().catch(() => ({ error: `the hub answered ${answer.status}`, code: "internal" }));
  if (!answer.ok) throw new HubError(report.error, report.code);
  return report;
}
