// The time window of the counter page's chart: the counter's latest
// changes, or every change since a moment (the last hour, the last day),
// fetched with history(since:) page by page. Each change comes with its
// operationNumber, so the page can tell which live events a window
// already holds.
import { graphql } from "./graphql.js";

const PAGE = 100; // the most history(first:) gives
// A window keeps at most this many changes, the newest: a day of a busy
// counter is more than a plot can show apart.
export const MOST_POINTS = 1000;

// seconds: how far back the window reaches (null: no bound in time);
// most: how many changes it keeps at most; empty: what an empty one says.
export const WINDOWS = {
  latest: { seconds: null, most: PAGE, empty: "No change yet" },
  hour: { seconds: 3600, most: MOST_POINTS, empty: "No change in the last hour" },
  day: { seconds: 86400, most: MOST_POINTS, empty: "No change in the last day" },
  all: { seconds: null, most: MOST_POINTS, empty: "No change yet" },
};

const query = (alsoAsk) => `query($name: String!, $since: DateTime, $after: String) {
  counter(name: $name) { ${alsoAsk} history(first: ${PAGE}, since: $since, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { operationNumber value timestamp } } } } }`;

// The window's changes, oldest first, and how many it has in all (more
// than are returned when past `most`). `alsoAsk`: more fields of the
// counter, asked in the same request as the first page (a page that
// refetches its state makes one request) and returned as `counter`.
export async function fetchWindow(name, choice, alsoAsk = "") {
  const { seconds, most } = WINDOWS[choice];
  const since = seconds === null ? null : new Date(Date.now() - seconds * 1000).toISOString();
  const operations = [];
  let counter = null;
  let after = null;
  let total = 0;
  do {
    const page = (await graphql(query(counter ? "" : alsoAsk), { name, since, after })).counter;
    counter ??= page;
    total = Math.max(total, page.history.totalCount);
    operations.push(...page.history.edges.map((edge) => edge.node));
    after = page.history.pageInfo.hasNextPage ? page.history.pageInfo.endCursor : null;
  } while (after && operations.length < most);
  return { operations: operations.slice(0, most).reverse(), total, counter };
}
