// A small graphql-transport-ws client for the pages.
//
// One socket per page, authenticated by the session cookie that the browser
// sends with the upgrade. It answers pings, reconnects with exponential
// backoff and jitter (1 s doubling to 30 s), resubscribes every active
// subscription, and reports its state.
//
// Subscriptions resume rather than start over: each remembers the last
// stream position its payloads carried (`extensions.stream`) and sends it
// as `extensions.since` when it subscribes again, so that the server sends
// what was missed, in order, before live events. Without a position yet it
// sends "now" and the server answers with one data-less notice saying where
// the stream is. Notices never reach `handlers.next`; `handlers.reset` is
// called when the page's state may be missing changes and must be fetched
// again: when the server cannot resume from the position sent (too old,
// another epoch), and when a subscription starts with no position (its
// first start, after the page's server-rendered state, or a reconnect
// before any position came). Streams without history ignore `since`, send
// no notice and so never reset. "connected" still fires on every connect.

const PROTOCOL = "graphql-transport-ws";
const FIRST_RETRY_MS = 1000;
const PING_EVERY_MS = 20000;
// A connection that does not answer a ping this fast is dead (a closed
// laptop lid, a dropped NAT entry): drop it and reconnect.
const PONG_WITHIN_MS = 8000;
const LAST_RETRY_MS = 30000;
// Close codes after which trying again cannot help.
const FATAL = new Set([4400, 4401, 4406, 4409, 4429, 1008]);

export class LiveConnection extends EventTarget {
  constructor(path = "/graphql") {
    super();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = `${scheme}://${location.host}${path}`;
    this.subscriptions = new Map();
    this.nextId = 1;
    this.attempt = 0;
    this.socket = null;
    this.retryTimer = null;
    this.state = "disconnected";
    this.retryAt = null;
    this.wanted = false;
  }

  connect() {
    this.wanted = true;
    clearTimeout(this.retryTimer);
    this.open();
  }

  disconnect() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    this.stopKeepAlive();
    if (this.socket) this.socket.close(1000, "Disconnected by the user");
    this.socket = null;
    this.setState("disconnected");
  }

  // Returns a function that ends the subscription.
  subscribe(query, variables, handlers) {
    const id = String(this.nextId++);
    // position: the last one seen; since: what the last subscribe sent.
    this.subscriptions.set(id, { query, variables, handlers, position: null, since: null });
    if (this.state === "connected") this.sendSubscribe(id);
    return () => {
      this.subscriptions.delete(id);
      if (this.state === "connected") this.send({ id, type: "complete" });
    };
  }

  open() {
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    const socket = new WebSocket(this.url, PROTOCOL);
    this.socket = socket;
    socket.addEventListener("open", () => this.send({ type: "connection_init", payload: {} }));
    socket.addEventListener("message", (message) => this.receive(JSON.parse(message.data)));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.stopKeepAlive();
      if (!this.wanted) return;
      if (FATAL.has(event.code)) {
        this.setState("disconnected");
        return;
      }
      this.scheduleRetry();
    });
  }

  scheduleRetry() {
    const base = Math.min(FIRST_RETRY_MS * 2 ** this.attempt, LAST_RETRY_MS);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState("reconnecting");
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  receive(message) {
    switch (message.type) {
      case "connection_ack":
        this.attempt = 0;
        this.retryAt = null;
        this.startKeepAlive();
        this.setState("connected");
        for (const id of this.subscriptions.keys()) this.sendSubscribe(id);
        this.dispatchEvent(new Event("connected"));
        break;
      case "ping":
        this.send(message.payload ? { type: "pong", payload: message.payload } : { type: "pong" });
        break;
      case "pong":
        clearTimeout(this.pongTimer);
        break;
      case "next":
        this.receiveNext(this.subscriptions.get(message.id), message.payload);
        break;
      case "error": {
        const subscription = this.subscriptions.get(message.id);
        this.subscriptions.delete(message.id);
        subscription?.handlers.error?.(message.payload);
        break;
      }
      case "complete":
        this.subscriptions.delete(message.id);
        break;
      default:
        break;
    }
  }

  startKeepAlive() {
    this.stopKeepAlive();
    this.pingTimer = setInterval(() => {
      this.send({ type: "ping" });
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.dropDeadSocket(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  // Without waiting for a close handshake that may never come.
  dropDeadSocket() {
    const dead = this.socket;
    this.socket = null;
    this.stopKeepAlive();
    dead?.close(4499, "No pong: connection lost");
    if (this.wanted) this.scheduleRetry();
  }

  stopKeepAlive() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  receiveNext(subscription, payload) {
    if (!subscription) return;
    const stream = payload.extensions?.stream;
    // (A notice may come without a position: the server could not read it.)
    if (Number.isInteger(stream?.offset)) subscription.position = { offset: stream.offset, epoch: stream.epoch };
    if ("data" in payload || "errors" in payload) {
      subscription.handlers.next?.(payload);
      return;
    }
    // A notice (one per subscribe, on streams with history). After "now"
    // the position is fresh but what the page shows may be older (rendered
    // by the server, or from before a reconnect); resetting here rather
    // than when subscribing means the page's fetch starts after the server
    // has joined us to the stream, so no change can fall in between.
    if (stream?.recovered === false || subscription.since === "now") subscription.handlers.reset?.();
  }

  sendSubscribe(id) {
    const subscription = this.subscriptions.get(id);
    const { query, variables, position } = subscription;
    subscription.since = position ?? "now";
    const extensions = { since: subscription.since };
    this.send({ id, type: "subscribe", payload: { query, variables, extensions } });
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  setState(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, retryAt: this.retryAt } }));
  }
}

// Shows a connection's state in the page's role="status" element:
// "Connected", "Reconnecting… (next try in 4 s)" or "Disconnected".
export function showConnectionState(connection, element) {
  const label = element.querySelector("[data-state-label]") ?? element;
  let ticker = null;
  const render = () => {
    const { state, retryAt } = connection;
    element.dataset.state = state;
    if (state === "connected") label.textContent = "Connected";
    else if (state === "connecting") label.textContent = "Connecting…";
    else if (state === "disconnected") label.textContent = "Disconnected";
    else if (retryAt) {
      const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      label.textContent = `Reconnecting… (next try in ${seconds} s)`;
    } else label.textContent = "Reconnecting…";
  };
  connection.addEventListener("state", () => {
    clearInterval(ticker);
    if (connection.state === "reconnecting") ticker = setInterval(render, 500);
    render();
  });
  render();
}

// Wraps an async task (a page's refetch) so that it runs once at a time:
// calls while it runs make one more run after it, however many they are,
// so that a burst of events costs one fetch in flight and one trailing.
// Each call's promise settles once a run that started after it has.
export function oneAtATime(task) {
  let running = null;
  let queued = null;
  const start = () => {
    running = Promise.resolve().then(task).finally(() => { running = null; });
    return running;
  };
  return () => {
    if (queued) return queued;
    if (!running) return start();
    queued = running.catch(() => {}).then(() => { queued = null; return start(); });
    return queued;
  };
}
