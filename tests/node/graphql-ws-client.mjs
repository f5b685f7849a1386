// The npm graphql-ws client, as a user's Node app would run it.
//
//   node graphql-ws-client.mjs <plan.json>
//
// plan: {baseUrl, username, password, subscriptions: {name: document},
//        mutations: [document | {query, anonymous: true}, ...], expect: {name: count}}
// Signs up over HTTP, opens one graphql-ws client with connectionParams
// {token}, starts every subscription, runs the mutations over HTTP with the
// bearer token (or, for one marked anonymous, without it), and prints
// {events: {name: [payload, ...]}} once every
// subscription has the expected count (or after 10 s).
import { readFileSync } from "node:fs";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));

async function post(query, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${plan.baseUrl}/graphql`, { method: "POST", headers, body: JSON.stringify({ query }) });
  return response.json();
}

const signUp = await post(
  `mutation { signUp(username: ${JSON.stringify(plan.username)}, password: ${JSON.stringify(plan.password)}) { token } }`,
);
const token = signUp.data.signUp.token;

const client = createClient({
  url: plan.baseUrl.replace(/^http/, "ws") + "/graphql",
  webSocketImpl: WebSocket,
  connectionParams: { token },
  lazy: false,
  retryAttempts: 0,
});
await new Promise((resolve) => client.on("connected", resolve));

const events = Object.fromEntries(Object.keys(plan.subscriptions).map((name) => [name, []]));
const errors = [];
const done = () => Object.entries(plan.expect).every(([name, count]) => events[name].length >= count);
let finish;
const finished = new Promise((resolve) => { finish = resolve; });
const timer = setTimeout(() => finish(), 10_000);

for (const [name, query] of Object.entries(plan.subscriptions)) {
  client.subscribe({ query }, {
    next(payload) { events[name].push(payload); if (done()) finish(); },
    error(error) { errors.push({ name, error }); finish(); },
    complete() {},
  });
}
// Give the server a moment to register the subscriptions, then change things.
await new Promise((resolve) => setTimeout(resolve, 300));
const mutationResults = [];
for (const mutation of plan.mutations) {
  const anonymous = typeof mutation === "object" && mutation.anonymous;
  const query = typeof mutation === "object" ? mutation.query : mutation;
  mutationResults.push(await post(query, anonymous ? undefined : token));
}
if (done()) finish();
await finished;
clearTimeout(timer);
await client.dispose();
console.log(JSON.stringify({ events, errors, mutationResults }));
