// A page's outbox: changes the server has not answered yet.
//
// Every change gets a key of its own (the mutation's clientMutationId) and
// is written here, in localStorage under the outbox's scope, before it is
// sent; it leaves only when the server's answer arrives. So a change made
// offline, or while the server cannot be reached, waits here across
// reloads, and one whose answer was lost with the connection is sent again
// with the same key, which the server answers with its first answer
// without applying the change again. A change the server refuses leaves
// too: sending it again would be refused again. Its page says why, and may
// keep it aside (`keep`) so that what the person wrote is not lost.
//
// Changes are sent in the order they were made, one at a time, so a later
// one never overtakes an earlier one still waiting.
//
// Each change is its own localStorage item, so that adding one is a single
// write and taking one out a single removal: two tabs never rewrite a
// shared list, in which one could drop what the other just added.
//
// The server remembers a key for a while (its REQUEST_KEY_WINDOW, a day by
// default), after which a retry would be a new change. So a change that was
// sent once and never answered is not sent again past that window (the
// server may have made it then): it is set aside as refused, with words
// that say so, for the person to check. A change never sent has nothing to
// fear from the window and waits as long as it takes.
//
// Tabs with the same scope share the outbox. Sending happens under a Web
// Lock named for the scope, so one tab sends at a time and the next reads
// what is left after it; where Web Locks are missing two tabs may send the
// same change, which its key makes harmless.

import { GraphQLRequestError, NetworkError } from "./graphql.js";

// After a send that got no answer while the browser says it is online
// (the server is down or restarting): the next try, unless the server said
// when. Coming back online and the page's socket reconnecting try at once.
const RETRY_MS = 5000;

// How long to wait before sending `error`'s change again, in ms: Infinity
// when the change was made by another account than the one signed in now
// (or nobody is: UNAUTHENTICATED, as the pages name theirs with
// extensions.expectedViewer), null when the server refused the change for
// good. No answer (the
// network, the server down) is worth another try, and so is an answer
// that says when (`extensions.retryAfter`: the database locked by another
// process, or out of disk, and nothing changed).
function retryDelay(error) {
  if (error instanceof NetworkError) return RETRY_MS;
  if (!(error instanceof GraphQLRequestError)) return null;
  if (error.errors.some((each) => each.extensions?.code === "UNAUTHENTICATED")) return Infinity;
  const after = error.errors.map((each) => each.extensions?.retryAfter).filter(Number.isFinite);
  return after.length ? Math.max(1000, ...after.map((seconds) => seconds * 1000)) : null;
}

// A key for a change. crypto.randomUUID exists only on secure pages (https,
// localhost); a page served over plain http gets one from random bytes.
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const hex = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0"));
  return hex.join("");
}

const PAST_THE_WINDOW = "Not sent again: it was sent long ago without an answer, and the server may have made it then. Check, and make it again if it is missing.";

// How long the server remembers a key, in ms, as the page was rendered
// with it (`data-key-window`, in seconds).
export function renderedKeyWindow(element) {
  const seconds = Number.parseFloat(element.dataset.keyWindow);
  return seconds > 0 ? seconds * 1000 : Infinity;
}

// Orders changes made in the same millisecond in one tab.
let made = 0;

const byAge = (a, b) => a.time - b.time || a.seq - b.seq || (a.key < b.key ? -1 : 1);

export class Outbox extends EventTarget {
  // `scope` names whose changes these are ("counter:<name>", "library:<user
  // id>"): a page sees only its scope's. `send(entry)` sends one change and
  // resolves with the server's answer; it throws NetworkError when no
  // answer came, GraphQLRequestError with the server's errors (see
  // retryDelay). Events: "change" (what waits changed, here or in another
  // tab), "sent" (detail: entry, answer), "refused" (detail: entry, error;
  // not for a change whose `outcome` this tab awaits: that rejects).
  // `keyWindow`: how long the server remembers a key, in ms.
  constructor(scope, send, { keyWindow = Infinity } = {}) {
    super();
    this.prefix = `outbox:${scope}:`;
    this.lockName = this.prefix;
    this.send = send;
    this.keyWindow = keyWindow;
    this.sending = false;
    this.retryTimer = null;
    this.awaited = new Map(); // key → { resolve, reject } of outcome()
    // A tab that went away during a first try left its change marked so:
    // from here on it is waiting like the rest.
    this.markWaiting();
    addEventListener("storage", (event) => {
      if (event.key !== null && !event.key.startsWith(this.prefix)) return;
      this.dispatchEvent(new Event("change"));
      // Sent (or refused) by another tab: it will not be answered here.
      for (const key of this.awaited.keys()) if (localStorage.getItem(this.prefix + key) === null) this.settle(key, null);
    });
  }

  // Everything kept under the scope, refused changes too.
  stored() {
    const found = [];
    for (let i = 0; i < localStorage.length; i++) {
      const item = localStorage.key(i);
      if (!item?.startsWith(this.prefix)) continue;
      try {
        found.push(JSON.parse(localStorage.getItem(item)));
      } catch {
        localStorage.removeItem(item);
      }
    }
    return found.filter(Boolean).sort(byAge);
  }

  // Every change not yet answered, oldest first.
  entries() {
    return this.stored().filter((entry) => !entry.refused);
  }

  // The changes to show as waiting to be sent: not those on their first
  // try, so that a change made online does not flash up as pending.
  waiting() {
    return this.entries().filter((entry) => !entry.firstTry);
  }

  // The changes refused and kept aside (`keep`), oldest first.
  refused() {
    return this.stored().filter((entry) => entry.refused);
  }

  // Keeps `change` (what `send` needs) under a new key and sends what waits.
  add(change) {
    const time = Date.now();
    // Sent at once only when nothing waits before it and the browser is online.
    const firstTry = this.entries().length === 0 && navigator.onLine !== false;
    const entry = { ...change, key: newKey(), time, seq: ++made, at: new Date(time).toISOString(), firstTry };
    localStorage.setItem(this.prefix + entry.key, JSON.stringify(entry));
    this.dispatchEvent(new Event("change"));
    this.flush();
    return entry;
  }

  // What becomes of `entry`, added by this tab: resolves with the server's
  // answer, or with null once it waits (no answer this time, or sent by
  // another tab); rejects with the server's refusal.
  outcome(entry) {
    return new Promise((resolve, reject) => {
      if (localStorage.getItem(this.prefix + entry.key) === null) resolve(null);
      else this.awaited.set(entry.key, { resolve, reject });
    });
  }

  settle(key, answer, error) {
    const waiter = this.awaited.get(key);
    if (!waiter) return false;
    this.awaited.delete(key);
    if (error) waiter.reject(error);
    else waiter.resolve(answer);
    return true;
  }

  remove(entry) {
    localStorage.removeItem(this.prefix + entry.key);
    this.dispatchEvent(new Event("change"));
  }

  // A refused change kept aside, with the server's words, until dismissed:
  // what the person wrote in it stays in front of them.
  keep(entry, error) {
    const refused = { ...entry, firstTry: false, refused: error.message || String(error) };
    localStorage.setItem(this.prefix + entry.key, JSON.stringify(refused));
    this.dispatchEvent(new Event("change"));
  }

  markWaiting() {
    for (const entry of this.entries()) {
      if (!entry.firstTry) continue;
      // Unless another tab's answer took it out meanwhile.
      if (localStorage.getItem(this.prefix + entry.key) === null) continue;
      localStorage.setItem(this.prefix + entry.key, JSON.stringify({ ...entry, firstTry: false }));
    }
  }

  // Sends what waits, in order, until it is empty or a send gets no answer.
  // A call while this tab is sending does nothing: the loop reads the
  // outbox afresh for each change, so it sends what was added meanwhile.
  async flush() {
    if (this.sending) return;
    this.sending = true;
    clearTimeout(this.retryTimer);
    try {
      if (navigator.locks) await navigator.locks.request(this.lockName, () => this.sendAll());
      else await this.sendAll();
    } finally {
      this.sending = false;
    }
  }

  async sendAll() {
    for (;;) {
      let entry = this.entries()[0];
      if (!entry) return;
      if (Date.now() - (entry.sentAt ?? Infinity) > this.keyWindow) {
        this.refuse(entry, new Error(PAST_THE_WINDOW));
        continue;
      }
      // Sent (unless the browser is offline, when it cannot go anywhere):
      // from now on the server may have it.
      if (entry.sentAt === undefined && navigator.onLine !== false) {
        entry = { ...entry, sentAt: Date.now() };
        localStorage.setItem(this.prefix + entry.key, JSON.stringify(entry));
      }
      let answer;
      try {
        answer = await this.send(entry);
      } catch (error) {
        const delay = retryDelay(error);
        if (delay !== null) {
          this.stalled(delay);
          return;
        }
        this.refuse(entry, error);
        continue;
      }
      this.remove(entry);
      this.settle(entry.key, answer);
      this.dispatchEvent(new CustomEvent("sent", { detail: { entry, answer } }));
    }
  }

  // Out, refused: told to whoever awaits its outcome here, else to all.
  refuse(entry, error) {
    this.remove(entry);
    if (!this.settle(entry.key, null, error)) this.dispatchEvent(new CustomEvent("refused", { detail: { entry, error } }));
  }

  // Not sent this time: everything waits, and is shown as waiting. Made by
  // another account than the one signed in now (Infinity), it waits for
  // that account, and the page is loaded again as the current one (whose
  // outbox is another; signed out, the page asks to sign in).
  stalled(delay) {
    this.markWaiting();
    for (const key of [...this.awaited.keys()]) this.settle(key, null);
    this.dispatchEvent(new Event("change"));
    clearTimeout(this.retryTimer);
    if (delay === Infinity) setTimeout(() => location.reload());
    else if (navigator.onLine !== false) this.retryTimer = setTimeout(() => this.flush(), delay);
  }
}
