// A small graphql-transport-ws client for the pages.
//
// One socket per page, authenticated by the session cookie that the browser
// sends with the upgrade. It answers pings, reconnects with exponential
// backoff and jitter (1 s doubling, to at most 5 s while the page is seen
// and 30 s while it is hidden), resubscribes every active subscription, and
// reports its state honestly: the browser's `offline` event drops the
// socket at once (it would otherwise look open until a ping went
// unanswered) and the state is "offline" until `online`; `online`, and the
// page coming back into view, try again at once rather than after the
// backoff; `retryNow()` is there for a person's "Retry now".
//
// Subscriptions resume rather than start over: each remembers the last
// stream position its payloads carried (`extensions.stream`) and sends it
// as `extensions.since` when it subscribes again, so that the server sends
// what was missed, in order, before live events. A page rendered by the
// server passes the position it was rendered at (`options.since`, see
// `renderedPosition`), so that its first subscribe already resumes from
// there. Without a position it sends "now" and the server answers with one
// data-less notice saying where the stream is. Notices never reach
// `handlers.next`; `handlers.reset` is called when the page's state may be
// missing changes and must be fetched again: when the server cannot resume
// from the position sent (too old, another epoch), and when a subscription
// starts with no position (a page that gave none, or a reconnect before any
// position came). Streams without history ignore `since`, send no notice
// and so never reset. "connected" still fires on every connect.

import { isNetworkMessage } from "./graphql.js";

const PROTOCOL = "graphql-transport-ws";
const FIRST_RETRY_MS = 1000;
const PING_EVERY_MS = 20000;
// A connection that does not answer a ping this fast is dead (a closed
// laptop lid, a dropped NAT entry): drop it and reconnect.
const PONG_WITHIN_MS = 8000;
// A socket that has not been acknowledged this long after opening is
// given up on (a handshake lost on a network that went away).
const ACK_WITHIN_MS = 10000;
// Longest wait between tries: short while someone looks at the page,
// longer while it is hidden (no one is waiting; the server is spared).
const LAST_RETRY_VISIBLE_MS = 5000;
const LAST_RETRY_HIDDEN_MS = 30000;
// Close codes after which trying again cannot help.
const FATAL = new Set([4400, 4401, 4406, 4409, 4429, 1008]);
// The close code for a socket this side gives up on (4000-4999: private use).
const GIVEN_UP = 4499;

// The stream position a page was rendered at, from the `data-offset` and
// `data-epoch` attributes the server put on `element`; null without them.
export function renderedPosition(element) {
  const offset = Number.parseInt(element?.dataset.offset ?? "", 10);
  const epoch = element?.dataset.epoch;
  return Number.isInteger(offset) && offset >= 0 && typeof epoch === "string" ? { offset, epoch } : null;
}

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
    addEventListener("offline", () => this.wentOffline());
    // Not after a refusal ("disconnected" while wanted: a close code after
    // which trying again cannot help); "Retry now" still can.
    addEventListener("online", () => this.state !== "disconnected" && this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      // Back in view: a socket that looks open may have died meanwhile.
      if (this.state === "connected") this.checkAlive();
      else if (this.state !== "disconnected") this.retryNow();
    });
  }

  connect() {
    this.wanted = true;
    clearTimeout(this.retryTimer);
    this.open();
  }

  disconnect() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    this.stopKeepAlive();
    if (this.socket) this.socket.close(1000, "Disconnected by the user");
    this.socket = null;
    this.setState("disconnected");
  }

  // Tries to connect now rather than when the backoff says (the network
  // came back, the page came into view, the person asked). Keeps a
  // connection that is up or on its way up.
  retryNow() {
    if (!this.wanted || this.state === "connected") return;
    if (this.socket?.readyState === WebSocket.CONNECTING && this.state !== "offline") return;
    clearTimeout(this.retryTimer);
    this.abandonSocket();
    this.attempt = 0;
    this.open();
  }

  // Returns a function that ends the subscription. `options.since`: the
  // position the page's state was rendered at (see renderedPosition).
  subscribe(query, variables, handlers, options = {}) {
    const id = String(this.nextId++);
    // position: the last one seen; since: what the last subscribe sent.
    const position = options.since ?? null;
    this.subscriptions.set(id, { query, variables, handlers, position, since: null });
    if (this.state === "connected") this.sendSubscribe(id);
    return () => {
      this.subscriptions.delete(id);
      if (this.state === "connected") this.send({ id, type: "complete" });
    };
  }

  open() {
    this.setState(this.attempt === 0 && !this.everConnected ? "connecting" : "reconnecting");
    const socket = new WebSocket(this.url, PROTOCOL);
    this.socket = socket;
    clearTimeout(this.ackTimer);
    this.ackTimer = setTimeout(() => this.socket === socket && this.dropDeadSocket(), ACK_WITHIN_MS);
    socket.addEventListener("open", () => this.send({ type: "connection_init", payload: {} }));
    socket.addEventListener("message", (message) => this.receive(JSON.parse(message.data)));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.stopKeepAlive();
      clearTimeout(this.ackTimer);
      if (!this.wanted) return;
      if (FATAL.has(event.code)) {
        this.setState("disconnected");
        return;
      }
      this.scheduleRetry();
    });
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    // Nothing to try until the network is back: `online` will say so.
    if (navigator.onLine === false) {
      this.retryAt = null;
      this.setState("offline");
      return;
    }
    const last = document.visibilityState === "hidden" ? LAST_RETRY_HIDDEN_MS : LAST_RETRY_VISIBLE_MS;
    const base = FIRST_RETRY_MS * 2 ** Math.min(this.attempt, 10);
    const delay = Math.min(last, Math.round(base * (0.75 + Math.random() * 0.5)));
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState("reconnecting");
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  receive(message) {
    switch (message.type) {
      case "connection_ack":
        clearTimeout(this.ackTimer);
        this.everConnected = true;
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
    this.pingTimer = setInterval(() => this.checkAlive(), PING_EVERY_MS);
  }

  // Asks a socket that looks open to prove it (a ping that must be
  // answered in time), as after the page was hidden for a while.
  checkAlive() {
    this.send({ type: "ping" });
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => this.dropDeadSocket(), PONG_WITHIN_MS);
  }

  // Without waiting for a close handshake that may never come.
  dropDeadSocket() {
    this.abandonSocket();
    if (this.wanted) this.scheduleRetry();
  }

  abandonSocket() {
    const dead = this.socket;
    this.socket = null;
    this.stopKeepAlive();
    clearTimeout(this.ackTimer);
    dead?.close(GIVEN_UP, "Connection lost");
  }

  // The browser says the network is gone: no use waiting for the socket
  // to notice (it can look open for as long as a ping takes to fail).
  wentOffline() {
    if (!this.wanted) return;
    clearTimeout(this.retryTimer);
    this.abandonSocket();
    this.retryAt = null;
    this.setState("offline");
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
// "Connected", "Reconnecting… (next try in 4 s)", "You're offline — changes
// are not saved" or "Disconnected". While not connected it also offers
// "Retry now" (a [data-retry] button beside the element), marks the page's
// <main> with the class "stale" and shows the [data-stale-hint] ("what is
// shown may be out of date"); once connected again it clears [data-error]
// messages that only said the server could not be reached.
// `options.offline`: the words for "offline" on a page that keeps changes
// made meanwhile (the counter page's outbox) instead of losing them.
export function showConnectionState(connection, element, options = {}) {
  const offlineWords = options.offline ?? "You're offline — changes are not saved";
  const bar = element.closest("[data-connection]") ?? element;
  const label = element.querySelector("[data-state-label]") ?? element;
  const hint = element.querySelector("[data-stale-hint]");
  const retry = bar.querySelector("[data-retry]");
  const main = element.closest("main") ?? document.querySelector("main");
  retry?.addEventListener("click", () => connection.retryNow());
  let ticker = null;
  let away = false;
  const render = () => {
    const { state, retryAt } = connection;
    element.dataset.state = state;
    if (state === "connected") label.textContent = "Connected";
    else if (state === "connecting") label.textContent = "Connecting…";
    else if (state === "offline") label.textContent = offlineWords;
    else if (state === "disconnected") label.textContent = "Disconnected";
    else if (retryAt) {
      const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      label.textContent = `Reconnecting… (next try in ${seconds} s)`;
    } else label.textContent = "Reconnecting…";
    // The first "connecting" shows what the server just rendered: fresh.
    const stale = state !== "connected" && state !== "connecting";
    if (stale) away = true;
    main?.classList.toggle("stale", stale);
    if (hint) hint.hidden = !stale;
    if (retry) retry.hidden = !(stale && connection.wanted);
    if (state === "connected" && away) {
      away = false;
      clearNetworkErrors();
    }
  };
  connection.addEventListener("state", () => {
    clearInterval(ticker);
    if (connection.state === "reconnecting") ticker = setInterval(render, 500);
    render();
  });
  render();
}

function clearNetworkErrors() {
  for (const element of document.querySelectorAll("[data-error]")) {
    if (isNetworkMessage(element.textContent)) element.textContent = "";
  }
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
