// The /graphql explorer: queries and mutations over HTTP, subscriptions
// over the page's live connection, results as they come.
import { definitions, selectedOperation } from "./graphql-document.js";
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
  // The first operation runs (GraphQL needs its name when there are more).
  const operation = selectedOperation(query);
  const operationName = definitions(query).filter((d) => d.kind !== "fragment").length > 1 ? operation?.name : undefined;
  if (operation?.kind === "subscription") {
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
    body: JSON.stringify({ query, variables, operationName }),
  });
  show(await response.json());
});

// Ctrl+Enter (Cmd+Enter on a Mac) in either field runs the document.
form.addEventListener("keydown", (key) => {
  if (key.key === "Enter" && (key.ctrlKey || key.metaKey)) {
    key.preventDefault();
    form.requestSubmit();
  }
});

live.connect();
