// The counter page: live value and history over the counter(name:)
// subscription, changes through GraphQL mutations.
import { graphql } from "./graphql.js";
import { LiveConnection, showConnectionState } from "./live.js";
import { formatDateTime, formatTime, h, toast } from "./dom.js";

const root = document.querySelector("[data-counter]");
const name = root.dataset.counter;
const valueEl = root.querySelector("[aria-label='Counter value']");
const errorEl = root.querySelector("[data-error]");
const amountEl = root.querySelector("input[name=amount]");
const updatedEl = root.querySelector("[data-updated]");
const historyEl = document.querySelector("[data-history]");
const toggle = root.querySelector("[data-toggle]");
const watchersEl = root.querySelector("[data-watchers]");

const EVENT_FIELDS = "type value previousValue timestamp actor { username } metadata { operationCount updatedAt }";
// operationCounts of our own changes: they get no toast.
const mine = new Set();

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

async function refresh() {
  const data = await graphql(
    `query($name: String!) { counter(name: $name) { value updatedAt
       history(first: 20) { edges { node { type value previousValue timestamp actor { username } } } } } }`,
    { name },
  );
  const counter = data.counter;
  showValue(counter.value, counter.updatedAt);
  historyEl.replaceChildren(...counter.history.edges.map((edge) => historyItem(edge.node)));
}

function onEvent(event) {
  showValue(event.value, event.metadata.updatedAt);
  historyEl.prepend(historyItem(event));
  while (historyEl.children.length > 20) historyEl.lastElementChild.remove();
  // Our own mutation's answer may come just after its event: wait a moment.
  const count = event.metadata.operationCount;
  setTimeout(() => {
    if (mine.delete(count)) return;
    const who = event.actor ? event.actor.username : "Someone";
    toast(`${who}: ${event.type} ${event.previousValue} → ${event.value}`);
  }, 300);
}

const live = new LiveConnection();
showConnectionState(live, root.querySelector("[role=status]"));
live.subscribe(`subscription($name: String!) { counter(name: $name) { ${EVENT_FIELDS} } }`, { name }, {
  next: (payload) => payload.data && onEvent(payload.data.counter),
  error: (errors) => { errorEl.textContent = errors[0].message; },
});
// How many watch this counter, across every server process.
live.subscribe("subscription($name: String!) { counterPresence(name: $name) { watchers } }", { name }, {
  next: (payload) => {
    if (payload.data) watchersEl.textContent = `${payload.data.counterPresence.watchers} watching`;
  },
});
live.addEventListener("connected", () => refresh().catch((error) => { errorEl.textContent = error.message; }));
live.addEventListener("state", () => {
  toggle.textContent = live.wanted ? "Disconnect" : "Connect";
});
toggle.addEventListener("click", () => (live.wanted ? live.disconnect() : live.connect()));

const MUTATIONS = {
  increment: ["incrementCounter", "mutation($name: String!, $n: Int) { incrementCounter(name: $name, amount: $n) { metadata { operationCount } } }"],
  decrement: ["decrementCounter", "mutation($name: String!, $n: Int) { decrementCounter(name: $name, amount: $n) { metadata { operationCount } } }"],
  setValue: ["setCounterValue", "mutation($name: String!, $n: Int!) { setCounterValue(name: $name, value: $n) { metadata { operationCount } } }"],
  reset: ["resetCounter", "mutation($name: String!) { resetCounter(name: $name) { metadata { operationCount } } }"],
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
    mine.add(data[field].metadata.operationCount);
  } catch (error) {
    errorEl.textContent = error.message;
  }
});

live.connect();
