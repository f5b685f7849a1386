// The counters page: each listed counter's value, live.
import { graphql } from "./graphql.js";
import { LiveConnection, showConnectionState } from "./live.js";
import { h } from "./dom.js";

const root = document.querySelector("[data-counters]");
const live = new LiveConnection();
showConnectionState(live, root.querySelector("[role=status]"));
const watching = new Map(); // name -> unsubscribe

function render(counters) {
  const list = h("ul", { class: "counter-list", "data-list": true });
  for (const counter of counters) {
    list.append(
      h("li", { dataset: { name: counter.name } },
        h("a", { href: `/counters/${encodeURIComponent(counter.name)}` }, counter.name),
        h("span", { class: "value", "data-value": true }, counter.value)),
    );
  }
  root.querySelector("[data-list]").replaceWith(counters.length ? list : h("p", { class: "empty", "data-list": true }, "No counter has been changed yet. Open one above."));
}

function watch(names) {
  for (const [name, stop] of watching) {
    if (!names.includes(name)) { stop(); watching.delete(name); }
  }
  for (const name of names) {
    if (watching.has(name)) continue;
    watching.set(name, live.subscribe(
      "subscription($name: String!) { counter(name: $name) { value } }",
      { name },
      { next: (payload) => {
        const item = root.querySelector(`li[data-name="${CSS.escape(name)}"] [data-value]`);
        if (item && payload.data) item.textContent = payload.data.counter.value;
      } },
    ));
  }
}

async function load() {
  const data = await graphql("{ counters(first: 50) { edges { node { name value } } } }");
  return data.counters.edges.map((edge) => edge.node);
}

live.addEventListener("connected", async () => {
  delete root.dataset.live;
  const counters = await load();
  render(counters);
  watch(counters.map((counter) => counter.name));
  // A change between the first load and the subscriptions would be lost:
  // load once more now that they are on their way.
  render(await load());
  root.dataset.live = "ready";
});
live.connect();
