// Apollo Client with its persisted-queries link, as a user's Node app
// would run it: HttpLink over GET or POST, GraphQLWsLink over the socket.
//
//   node apollo-persisted.mjs <plan.json>
//
// plan: {baseUrl, steps: [{client, via: "post"|"get"|"socket", kind:
//        "query"|"mutation"|"subscription", document, variables, events}]}
// Each step runs one operation on the Apollo Client named `client` (made on
// first use, so a new name is a new client with no hashes known), recording
// every HTTP request it sent. Prints {steps: [{data, errors, requests,
// events}]}: requests as {method, hash, query (whether the text was sent),
// status}.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const clients = new Map();
let requests = [];

async function recordingFetch(url, options) {
  const parsed = new URL(url);
  let sent = {};
  if (options.method === "GET") {
    sent = { query: parsed.searchParams.get("query"), extensions: JSON.parse(parsed.searchParams.get("extensions") || "null") };
  } else {
    sent = JSON.parse(options.body);
  }
  const response = await fetch(url, options);
  requests.push({
    method: options.method,
    hash: sent.extensions?.persistedQuery?.sha256Hash ?? null,
    query: typeof sent.query === "string",
    status: response.status,
  });
  return response;
}

function clientNamed(name, via) {
  const key = `${name}/${via}`;
  if (!clients.has(key)) {
    const persisted = new PersistedQueryLink({ sha256, useGETForHashedQueries: via === "get" });
    let transport;
    if (via === "socket") {
      const socket = createClient({
        url: plan.baseUrl.replace(/^http/, "ws") + "/graphql",
        webSocketImpl: WebSocket,
        retryAttempts: 0,
      });
      transport = new GraphQLWsLink(socket);
      transport.socket = socket;
    } else {
      transport = new HttpLink({ uri: `${plan.baseUrl}/graphql`, fetch: recordingFetch });
    }
    const client = new ApolloClient({
      link: ApolloLink.from([persisted, transport]),
      cache: new InMemoryCache(),
      defaultOptions: { query: { fetchPolicy: "no-cache" } },
    });
    clients.set(key, { client, transport });
  }
  return clients.get(key);
}

function subscribe(client, step) {
  return new Promise((resolve) => {
    const events = [];
    const errors = [];
    const subscription = client.subscribe({ query: gql(step.document), variables: step.variables }).subscribe({
      next: (result) => {
        if (result.error) errors.push(String(result.error.message));
        else events.push(result.data);
        if (events.length >= step.events) finish();
      },
      error: (error) => {
        errors.push(String(error.message));
        finish();
      },
    });
    const timer = setTimeout(finish, 10_000);
    function finish() {
      clearTimeout(timer);
      subscription.unsubscribe();
      resolve({ events, errors });
    }
    // Changes made once the subscription has surely started.
    setTimeout(async () => {
      for (const mutation of step.mutations) {
        await fetch(`${plan.baseUrl}/graphql`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ query: mutation }),
        });
      }
    }, 500);
  });
}

const results = [];
for (const step of plan.steps) {
  requests = [];
  const { client } = clientNamed(step.client, step.via);
  const result = { data: null, errors: [], events: [] };
  try {
    if (step.kind === "subscription") {
      const outcome = await subscribe(client, step);
      result.events = outcome.events;
      result.errors = outcome.errors;
    } else {
      const call =
        step.kind === "mutation"
          ? client.mutate({ mutation: gql(step.document), variables: step.variables })
          : client.query({ query: gql(step.document), variables: step.variables });
      const outcome = await call;
      result.data = outcome.data ?? null;
      if (outcome.error) result.errors.push(String(outcome.error.message));
    }
  } catch (error) {
    result.errors.push(String(error.message));
  }
  result.requests = requests;
  results.push(result);
}
for (const { transport } of clients.values()) {
  if (transport.socket) await transport.socket.dispose();
}
console.log(JSON.stringify({ steps: results }));
