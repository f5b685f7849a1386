// The counter page: live value and history over the counter(name:)
// subscription, changes through GraphQL mutations.
import { graphql } from "./graphql.js";
import { LiveConnection, oneAtATime, renderedPosition, showConnectionState } from "./live.js";
import { formatDateTime, formatTime, h, toast } from "./dom.js";
import { LiveChart } from "./chart.js";
import { WINDOWS, fetchWindow } from "./counter-window.js";

const root = document.querySelector("[data-counter]");
const name = root.dataset.counter;
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
  historyEl.prepend(historyItem(event));
  while (historyEl.children.length > LIST_ITEMS) historyEl.lastElementChild.remove();
  return true;
}

// Toasts for others' changes. A burst (a reconnect's replay of what was
// missed) is one toast with the count, not one per change.
let toasting = [];
function announce(event) {
  toasting.push(event);
  if (toasting.length > 1) return;
  // Our own mutation's answer may come just after its event: wait a moment.
  setTimeout(() => {
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
  }, 300);
}

const live = new LiveConnection();
showConnectionState(live, root.querySelector("[role=status]"));
live.subscribe(`subscription($name: String!) { counter(name: $name) { ${EVENT_FIELDS} } }`, { name }, {
  next: (payload) => payload.data && onEvent(payload.data.counter),
  reset: refresh,
  error: (errors) => { errorEl.textContent = errors[0].message; },
}, { since: rendered });
// How many watch this counter, across every server process.
live.subscribe("subscription($name: String!) { counterPresence(name: $name) { watchers } }", { name }, {
  next: (payload) => {
    if (payload.data) watchersEl.textContent = `${payload.data.counterPresence.watchers} watching`;
  },
});
live.addEventListener("state", () => {
  toggle.textContent = live.wanted ? "Disconnect" : "Connect";
});
toggle.addEventListener("click", () => (live.wanted ? live.disconnect() : live.connect()));
windowEl.addEventListener("change", () => loadWindow());
figure.querySelector("[data-window-picker]").hidden = false;

const MUTATIONS = {
  increment: ["incrementCounter", `mutation($name: String!, $n: Int) { incrementCounter(name: $name, amount: $n) { ${EVENT_FIELDS} } }`],
  decrement: ["decrementCounter", `mutation($name: String!, $n: Int) { decrementCounter(name: $name, amount: $n) { ${EVENT_FIELDS} } }`],
  setValue: ["setCounterValue", `mutation($name: String!, $n: Int!) { setCounterValue(name: $name, value: $n) { ${EVENT_FIELDS} } }`],
  reset: ["resetCounter", `mutation($name: String!) { resetCounter(name: $name) { ${EVENT_FIELDS} } }`],
};

root.querySelector("[data-controls]").addEventListener("submit", async (submit) => {
  submit.preventDefault();
  const op = submit.submitter?.value;
  if (!MUTATIONS[op]) return;
  const [field, query] = MUTATIONS[op];
  const n = Number.parseInt(amountEl.value, 10);
  errorEl.textContent = "";
  try {
    const data = await graphql(query, { name, n: Number.isNaN(n) ? null : n });
    const change = data[field];
    mine.add(change.metadata.operationCount);
    // Connected, the change comes as an event like everyone's. Disconnected
    // (by the button), the answer is all there is: show the new value, and
    // leave the history to the replay once connected again.
    if (live.state !== "connected") showValue(change.value, change.metadata.updatedAt);
  } catch (error) {
    errorEl.textContent = error.message;
  }
});

live.connect();
