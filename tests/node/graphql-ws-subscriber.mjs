// The npm graphql-ws client running one subscription, telling as it goes.
//
//   node graphql-ws-subscriber.mjs <ws url> <document>
//
// Prints one JSON line per happening: {"connected": true}, {"next": payload},
// {"error": ...}, {"complete": true}, {"closed": code}. Disposes of the
// client and exits when its stdin closes.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, query] = process.argv.slice(2);
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const client = createClient({ url, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
client.on("connected", () => say({ connected: true }));
client.on("closed", (event) => say({ closed: event?.code ?? null }));
client.subscribe({ query }, {
  next: (payload) => say({ next: payload }),
  error: (error) => say({ error: error instanceof Error ? error.message : JSON.stringify(error) }),
  complete: () => say({ complete: true }),
});

process.stdin.resume();
process.stdin.on("end", async () => {
  await client.dispose();
  process.exit(0);
});
