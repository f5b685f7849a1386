// The counter page: live value and history over the counter(name:)
// subscription, changes through GraphQL mutations sent by way of the
// outbox (outbox.js), each with its own key.
import { graphql } from "./graphql.js";
import { LiveConnection, oneAtATime, renderedPosition, showConnectionState } from "./live.js";
import { formatDateTime, formatTime, h, toast } from "./dom.js";
import { LiveChart } from "./chart.js";
import { WINDOWS, fetchWindow } from "./counter-window.js";
import { Outbox, renderedKeyWindow } from "./outbox.js";
import { showWatching } from "./watching.js";
import { followButton } from "./follow.js";
import { showNotifications } from "./notifications.js";

const root = document.querySelector("[data-counter]");
const name = root.dataset.counter;
// The signed-in viewer's username (undefined when anonymous): "you" among the watchers.
const viewer = root.dataset.viewer;
// The viewer's User id; null for a visitor not signed in.
const viewerId = root.dataset.viewerId ?? null;
const valueEl = root.querySelector("[aria-label='Counter value']");
const errorEl = root.querySelector("[data-error]");
const amountEl = root.querySelector("input[name=amount]");
const updatedEl = root.querySelector("[data-updated]");
const historyEl = document.querySelector("[data-history]");
const toggle = root.querySelector("[data-toggle]");
const watchersEl = root.querySelector("[data-watchers]");
const figure = document.querySelector("[data-chart=value]");
const windowEl = figure.querySelector("[data-window]");
const windowNoteEl = figure.querySelector("[data-window-note]");
const outboxEl = root.querySelector("[data-outbox]");
const LIST_ITEMS = 20;
// The chart shows a window (counter-window.js): at first the latest
// changes, as rendered; the picker loads another.
const chart = new LiveChart(figure, {
  label: "Value after each change",
  stepped: true,
  keepPoints: WINDOWS.latest.most,
  empty: WINDOWS.latest.empty,
});
const seconds = (iso) => Date.parse(iso) / 1000;
// The chart starts from the changes rendered into the page, oldest first:
// [time, value, operation number].
const points = JSON.parse(document.querySelector("[data-chart-points]")?.textContent || "[]");
chart.set(points.map((p) => p[0]), points.map((p) => p[1]));
figure.dataset.window = "latest";
// The operation number of the newest change the chart shows, whatever
// window it shows: each live event is drawn once, after what it has.
let charted = points.at(-1)?.[2] ?? 0;
// Live events that come while a window loads wait here, to be drawn on
// top of it if newer than what it holds.
let chartHeld = null;
let windowLoads = 0;

const EVENT_FIELDS = "type value previousValue timestamp actor { username } metadata { operationCount updatedAt }";
// operationCounts of our own changes: they get no toast.
const mine = new Set();
// The operationCount of what is shown: each event is applied once, however
// it arrives (live, replayed after a reconnect, or already in a fetch).
// The page is rendered with its stream position (its operationCount), and
// subscribes from there, so it needs no fetch to start.
const rendered = renderedPosition(root);
let shown = rendered?.offset ?? null;
// Events that arrive while the state is being fetched wait here, to be
// applied on top of it if newer.
let held = null;

function showValue(value, updatedAt) {
  valueEl.textContent = value;
  updatedEl.textContent = updatedAt ? `Last update ${formatTime(updatedAt)}` : "Never changed yet";
}

function historyItem(op) {
  const who = op.actor ? op.actor.username : "anonymous";
  return h(
    "li",
    {},
    h("span", { class: "op" }, op.type),
    h("span", { class: "change" }, `${op.previousValue} → ${op.value}`),
    h("span", { class: "who" }, who),
    h("time", { datetime: op.timestamp }, formatDateTime(op.timestamp)),
  );
}

function chartEvent(event) {
  if (chartHeld) chartHeld.push(event);
  else drawEvent(event);
}

function drawEvent(event) {
  const number = event.metadata.operationCount;
  if (number <= charted) return;
  charted = number;
  chart.push(seconds(event.timestamp), event.value);
}

// Loads the window picked into the chart. Live events keep coming
// meanwhile: they wait, and are drawn on top of the window once it is
// there (or on top of what was shown, if loading failed). A later pick
// replaces a load still under way. `alsoAsk`: counter fields to fetch
// with it; returns them (null if the request failed).
async function loadWindow(alsoAsk = "") {
  const choice = windowEl.value;
  const load = ++windowLoads;
  chartHeld ??= [];
  figure.setAttribute("aria-busy", "true");
  try {
    const { operations, total, counter } = await fetchWindow(name, choice, alsoAsk);
    if (load === windowLoads) {
      const { seconds: span, most, empty } = WINDOWS[choice];
      Object.assign(chart.options, { keepSeconds: span, keepPoints: most, empty });
      chart.set(operations.map((op) => seconds(op.timestamp)), operations.map((op) => op.value));
      charted = operations.at(-1)?.operationNumber ?? 0;
      figure.dataset.window = choice;
      windowNoteEl.textContent = total > operations.length ? `The newest ${operations.length} of ${total} changes.` : "";
    }
    return counter;
  } catch (error) {
    errorEl.textContent = error.message;
    return null;
  } finally {
    if (load === windowLoads) {
      const waiting = chartHeld;
      chartHeld = null;
      figure.removeAttribute("aria-busy");
      for (const event of waiting) drawEvent(event);
    }
  }
}

// Only when the subscription says the page may have missed changes (see
// live.js): a reconnect resumes the stream instead. The state, the list
// and the chart's window come in one request.
const refresh = oneAtATime(async () => {
  held = [];
  try {
    const counter = await loadWindow(`value updatedAt operationCount
      recent: history(first: ${LIST_ITEMS}) { edges { node { type value previousValue timestamp actor { username } } } }`);
    if (counter) {
      shown = counter.operationCount;
      showValue(counter.value, counter.updatedAt);
      historyEl.replaceChildren(...counter.recent.edges.map((edge) => historyItem(edge.node)));
      showOutbox();
    }
  } finally {
    const waiting = held;
    held = null;
    // Changes made since the subscription started: told of even when the
    // fetch already shows them.
    for (const event of waiting) {
      apply(event);
      announce(event);
    }
  }
});

function onEvent(event) {
  chartEvent(event);
  if (held) held.push(event);
  else if (apply(event)) announce(event);
}

// Shows the event unless what is shown already has it; says whether it did.
function apply(event) {
  const count = event.metadata.operationCount;
  if (shown !== null && count <= shown) return false;
  shown = count;
  showValue(event.value, event.metadata.updatedAt);
  // Below the changes still waiting to be sent, which stay on top.
  historyEl.insertBefore(historyItem(event), historyEl.querySelector(":scope > li:not([data-pending])"));
  while (historyEl.querySelectorAll(":scope > li:not([data-pending])").length > LIST_ITEMS) {
    historyEl.lastElementChild.remove();
  }
  return true;
}

// Toasts for others' changes. A burst (a reconnect's replay of what was
// missed) is one toast with the count, not one per change.
let toasting = [];
// Our own change's answer may come just after its event: wait a moment.
const ANSWER_WAIT_MS = 300;
// Or much later, when its first answer was lost: it is sent again from the
// outbox, and only that answer says the change was ours. While changes
// wait there, the events wait too, this long at most.
const OUTBOX_WAIT_MS = 15000;
function announce(event) {
  toasting.push(event);
  if (toasting.length > 1) return;
  const began = Date.now();
  const decide = () => {
    if (outbox.entries().length && Date.now() - began < OUTBOX_WAIT_MS) {
      setTimeout(decide, ANSWER_WAIT_MS);
      return;
    }
    const others = toasting.filter((e) => !mine.delete(e.metadata.operationCount));
    toasting = [];
    if (others.length > 3) {
      toast(`${others.length} changes, the last: ${others.at(-1).previousValue} → ${others.at(-1).value}`);
      return;
    }
    for (const e of others) {
      const who = e.actor ? e.actor.username : "Someone";
      toast(`${who}: ${e.type} ${e.previousValue} → ${e.value}`);
    }
  };
  setTimeout(decide, ANSWER_WAIT_MS);
}

const live = new LiveConnection();
showConnectionState(live, root.querySelector("[role=status]"), {
  offline: "You're offline — changes will be sent when you're back",
});
live.subscribe(`subscription($name: String!) { counter(name: $name) { ${EVENT_FIELDS} } }`, { name }, {
  next: (payload) => payload.data && onEvent(payload.data.counter),
  reset: refresh,
  error: (errors) => { errorEl.textContent = errors[0].message; },
}, { since: rendered });
// Who watches this counter, across every server process: each notice
// carries the whole list, so joins and leaves need no bookkeeping here.
live.subscribe("subscription($name: String!) { counterPresence(name: $name) { watchers members { username } truncated } }", { name }, {
  next: (payload) => {
    if (payload.data) showWatching(watchersEl, payload.data.counterPresence, viewer);
  },
});
live.addEventListener("state", () => {
  toggle.textContent = live.wanted ? "Disconnect" : "Connect";
});
toggle.addEventListener("click", () => (live.wanted ? live.disconnect() : live.connect()));
// Changes to this counter are told by its own toasts above.
showNotifications(live, { skip: name });
const followForm = root.querySelector("[data-follow-form]");
if (followForm) followButton(followForm, { name, viewer, errorEl });
windowEl.addEventListener("change", () => loadWindow());
figure.querySelector("[data-window-picker]").hidden = false;

const MUTATIONS = {
  increment: ["incrementCounter", `mutation($name: String!, $n: Int, $key: String) { incrementCounter(name: $name, amount: $n, clientMutationId: $key) { ${EVENT_FIELDS} } }`],
  decrement: ["decrementCounter", `mutation($name: String!, $n: Int, $key: String) { decrementCounter(name: $name, amount: $n, clientMutationId: $key) { ${EVENT_FIELDS} } }`],
  setValue: ["setCounterValue", `mutation($name: String!, $n: Int!, $key: String) { setCounterValue(name: $name, value: $n, clientMutationId: $key) { ${EVENT_FIELDS} } }`],
  reset: ["resetCounter", `mutation($name: String!, $key: String) { resetCounter(name: $name, clientMutationId: $key) { ${EVENT_FIELDS} } }`],
};

// One change from the outbox, with its key: sent again after a lost
// answer, the server answers as the first time and changes nothing.
// Each names the account it was made by (or none): sent under another
// session it is refused and waits (outbox.js), and the page is loaded
// again as it.
async function sendChange(entry) {
  const [field, query] = MUTATIONS[entry.op];
  const data = await graphql(query, { name, n: entry.n, key: entry.key }, { expectedViewer: viewerId });
  return data[field];
}

// A waiting change in words, as the history says them.
function describe(entry) {
  const amount = entry.n ?? 1;
  if (entry.op === "increment") return `+${amount}`;
  if (entry.op === "decrement") return `−${amount}`;
  if (entry.op === "setValue") return `set to ${entry.n}`;
  return "reset to 0";
}

// Each account's own outbox (a visitor's, not signed in, is the counter's).
const outboxScope = viewerId ? `counter-of:${viewerId}:${encodeURIComponent(name)}` : `counter:${encodeURIComponent(name)}`;
const outbox = new Outbox(outboxScope, sendChange, { keyWindow: renderedKeyWindow(root) });

// What waits to be sent: a line under the buttons, and rows on top of the
// history marked as waiting (newest first, like the history).
function showOutbox() {
  const waiting = outbox.waiting();
  outboxEl.hidden = waiting.length === 0;
  outboxEl.textContent = waiting.length === 1 ? "1 change waiting to be sent" : `${waiting.length} changes waiting to be sent`;
  for (const row of historyEl.querySelectorAll(":scope > li[data-pending]")) row.remove();
  // Refused when it went (perhaps by another tab): kept in view in every
  // tab, with the server's words, until dismissed.
  const refused = outbox.refused().map((entry) => h(
    "li",
    { class: "refused", dataset: { pending: entry.key } },
    h("span", { class: "op" }, entry.op),
    h("span", { class: "change" }, describe(entry)),
    h("span", { class: "who" }, `not saved: ${entry.refused}`),
    h("button", { type: "button", class: "link", "aria-label": `Dismiss: ${entry.op} ${describe(entry)} not saved`, onclick: () => outbox.remove(entry) }, "Dismiss"),
  ));
  historyEl.prepend(...refused.toReversed(), ...waiting.toReversed().map((entry) => h(
    "li",
    { class: "pending", dataset: { pending: entry.key } },
    h("span", { class: "op" }, entry.op),
    h("span", { class: "change" }, describe(entry)),
    h("span", { class: "who" }, "waiting to be sent"),
    h("time", { datetime: entry.at }, formatDateTime(entry.at)),
  )));
}

outbox.addEventListener("change", showOutbox);
outbox.addEventListener("sent", ({ detail: { answer } }) => {
  mine.add(answer.metadata.operationCount);
  // Connected, the change comes as an event like everyone's. Disconnected
  // (by the button), the answer is all there is: show the new value, and
  // leave the history to the replay once connected again.
  if (live.state !== "connected") showValue(answer.value, answer.metadata.updatedAt);
});
outbox.addEventListener("refused", ({ detail: { entry, error } }) => {
  errorEl.textContent = `Not saved (${entry.op} ${describe(entry)}): ${error.message}`;
  outbox.keep(entry, error);
});
// Back in touch with the server: send what waits.
live.addEventListener("connected", () => outbox.flush());
addEventListener("online", () => outbox.flush());
showOutbox();
outbox.flush();

root.querySelector("[data-controls]").addEventListener("submit", (submit) => {
  submit.preventDefault();
  const op = submit.submitter?.value;
  if (!MUTATIONS[op]) return;
  const n = Number.parseInt(amountEl.value, 10);
  errorEl.textContent = "";
  outbox.add({ op, n: op === "reset" || Number.isNaN(n) ? null : n });
});

live.connect();
