// Runs every graphql-http server audit against the URL in argv[2] and
// prints one JSON document: {summary, results: [{id, name, status, ...}]}.
// Each audit runs on its own so that one network failure can't hide the rest.
import { serverAudits } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node run-audit.mjs <url>");
  process.exit(2);
}

const results = await Promise.all(
  serverAudits({ url }).map(async ({ id, name, fn }) => {
    try {
      const result = await fn();
      const out = { id, name: result.name, status: result.status };
      if (result.status !== "ok") {
        out.reason = result.reason;
        out.httpStatus = result.response?.status;
      }
      return out;
    } catch (error) {
      return { id, name, status: "fatal", reason: String(error?.cause?.message ?? error?.message ?? error) };
    }
  }),
);
const summary = {};
for (const result of results) summary[result.status] = (summary[result.status] ?? 0) + 1;
console.log(JSON.stringify({ url, summary, results }));
