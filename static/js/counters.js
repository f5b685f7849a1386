// The counters page: counters by most recent change, live. One
// subscription hears every counter's changes: a listed counter gets its
// new value and moves to the top; one made elsewhere appears there.
import { LiveConnection, showConnectionState } from "./live.js";
import { h } from "./dom.js";
import { showNotifications } from "./notifications.js";

const LIMIT = 50;
const root = document.querySelector("[data-counters]");
const live = new LiveConnection();
showConnectionState(live, root.querySelector("[role=status]"));
// name -> { value, operationCount } of what is shown, newest first.
let shown = new Map();
// Changes that arrive while the list is being loaded: applied after it.
let held = null;

function item(name, value) {
  return h("li", { dataset: { name } },
    h("a", { href: `/counters/${encodeURIComponent(name)}` }, name),
    h("span", { class: "value", "data-value": true }, value));
}

function render() {
  const list = h("ul", { class: "counter-list", "data-list": true },
    [...shown].map(([name, counter]) => item(name, counter.value)));
  root.querySelector("[data-list]").replaceWith(shown.size ? list : h("p", { class: "empty", "data-list": true }, "No counter has been changed yet. Open one above."));
}

// Puts a change on top, unless what is shown of that counter is newer.
function apply(change) {
  const { name, operationCount } = change.metadata;
  const known = shown.get(name);
  if (known && known.operationCount >= operationCount) return;
  shown.delete(name);
  shown = new Map([[name, { value: change.value, operationCount }], ...shown]);
  while (shown.size > LIMIT) shown.delete([...shown.keys()].at(-1));
  render();
}

live.subscribe("subscription { counters { value metadata { name operationCount } } }", {}, {
  next: (payload) => {
    if (!payload.data) return;
    if (held) held.push(payload.data.counters);
    else apply(payload.data.counters);
  },
});

// The list as it is now, asked on the socket right behind the subscription:
// the server takes them in order, so the subscription has joined before
// the list is read, and no change can fall between the two.
function load() {
  return new Promise((resolve, reject) => {
    live.subscribe(`{ counters(first: ${LIMIT}) { edges { node { name value operationCount } } } }`, {}, {
      next: (payload) => (payload.data ? resolve(payload.data) : reject(new Error(payload.errors?.[0]?.message))),
      error: (errors) => reject(new Error(errors[0]?.message)),
    });
  });
}

// On every connect: what the subscription brings while the list loads
// waits, then applies on top (each counter's operationCount says which
// is newer).
live.addEventListener("connected", async () => {
  delete root.dataset.live;
  held = [];
  try {
    const data = await load();
    shown = new Map(data.counters.edges.map(({ node }) => [node.name, { value: node.value, operationCount: node.operationCount }]));
    render();
  } finally {
    const waiting = held;
    held = null;
    for (const change of waiting) apply(change);
  }
  root.dataset.live = "ready";
});
showNotifications(live);
live.connect();
