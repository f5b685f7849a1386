// The /graphql explorer: queries and mutations over HTTP, subscriptions
// over the page's live connection, results as they come.
import { LiveConnection, showConnectionState } from "./live.js";

const root = document.querySelector("[data-explorer]");
const form = root.querySelector("[data-run]");
const result = root.querySelector("[data-result]");
const stopButton = root.querySelector("[data-stop]");
const live = new LiveConnection();
showConnectionState(live, root.querySelector("[role=status]"));
let stop = null;

function show(value) {
  result.textContent = typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function endSubscription() {
  stop?.();
  stop = null;
  stopButton.disabled = true;
}

stopButton.addEventListener("click", endSubscription);

form.addEventListener("submit", async (submit) => {
  submit.preventDefault();
  endSubscription();
  const query = form.elements.query.value;
  let variables;
  try {
    variables = JSON.parse(form.elements.variables.value || "{}");
  } catch {
    show("The variables are not valid JSON.");
    return;
  }
  if (/^\s*subscription\b/.test(query.replace(/#[^\n]*/g, ""))) {
    const received = [];
    show("Subscribed; waiting for events…");
    stopButton.disabled = false;
    stop = live.subscribe(query, variables, {
      next: (payload) => { received.unshift(payload); show(received.slice(0, 50)); },
      error: (errors) => { show({ errors }); stopButton.disabled = true; },
    });
    return;
  }
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/graphql-response+json" },
    body: JSON.stringify({ query, variables }),
  });
  show(await response.json());
});

live.connect();
