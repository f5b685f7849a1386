// The npm graphql-sse client running operations, telling as it goes.
//
//   node graphql-sse-subscriber.mjs '<options as JSON>'
//
// options: {url, singleConnection, token?, operations: {name: document}}
// Creates one client (createClient, `singleConnection` as given, the
// bearer token in the Authorization header when given) and starts every
// operation at once. Prints one JSON line per happening:
// {"name": …, "next": payload}, {"name": …, "error": message},
// {"name": …, "complete": true}, and {"connected": true} whenever the
// client (single connection mode) or an operation (distinct mode) has its
// event stream open. Disposes of the client and exits when stdin closes.
import { createClient } from "graphql-sse";

const options = JSON.parse(process.argv[2]);
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const client = createClient({
  url: options.url,
  singleConnection: options.singleConnection,
  headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
  retryAttempts: 0,
  on: { connected: () => say({ connected: true }) },
});

for (const [name, query] of Object.entries(options.operations)) {
  client.subscribe({ query }, {
    next: (payload) => say({ name, next: payload }),
    error: (error) => say({ name, error: error instanceof Error ? error.message : JSON.stringify(error) }),
    complete: () => say({ name, complete: true }),
  });
}

process.stdin.resume();
process.stdin.on("end", () => {
  client.dispose();
  process.exit(0);
});
