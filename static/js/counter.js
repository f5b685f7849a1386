// The counter page: live value and history over the counter(name:)
// subscription, changes through GraphQL mutations.
import { graphql } from "./graphql.js";
import { LiveConnection, oneAtATime, renderedPosition, showConnectionState } from "./live.js";
import { formatDateTime, formatTime, h, toast } from "./dom.js";
import { LiveChart } from "./chart.js";

const root = document.querySelector("[data-counter]");
const name = root.dataset.counter;
const valueEl = root.querySelector("[aria-label='Counter value']");
const errorEl = root.querySelector("[data-error]");
const amountEl = root.querySelector("input[name=amount]");
const updatedEl = root.querySelector("[data-updated]");
const historyEl = document.querySelector("[data-history]");
const toggle = root.querySelector("[data-toggle]");
const watchersEl = root.querySelector("[data-watchers]");
// The chart keeps more changes than the list shows.
const CHART_POINTS = 100; // the most `history(first:)` gives
const LIST_ITEMS = 20;
const chart = new LiveChart(document.querySelector("[data-chart=value]"), {
  label: "Value after each change",
  stepped: true,
  keepPoints: CHART_POINTS,
  empty: "No change yet",
});
const seconds = (iso) => Date.parse(iso) / 1000;
// The chart starts from the changes rendered into the page, oldest first.
const points = JSON.parse(document.querySelector("[data-chart-points]")?.textContent || "[]");
chart.set(points.map((p) => p[0]), points.map((p) => p[1]));

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

// Only when the subscription says the page may have missed changes (see
// live.js): a reconnect resumes the stream instead.
const refresh = oneAtATime(async () => {
  held = [];
  try {
    const data = await graphql(
      `query($name: String!) { counter(name: $name) { value updatedAt operationCount
         history(first: ${CHART_POINTS}) { edges { node { type value previousValue timestamp actor { username } } } } } }`,
      { name },
    );
    const counter = data.counter;
    shown = counter.operationCount;
    showValue(counter.value, counter.updatedAt);
    const operations = counter.history.edges.map((edge) => edge.node);
    historyEl.replaceChildren(...operations.slice(0, LIST_ITEMS).map(historyItem));
    const oldestFirst = operations.slice().reverse();
    chart.set(oldestFirst.map((op) => seconds(op.timestamp)), oldestFirst.map((op) => op.value));
  } catch (error) {
    errorEl.textContent = error.message;
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
  chart.push(seconds(event.timestamp), event.value);
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
