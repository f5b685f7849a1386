// Queries and mutations over HTTP. JSON bodies are what protects a
// cookie-signed-in user from cross-site requests (see app/web/auth.py).
//
// A request that never reached the server is said in plain words (not the
// browser's "Failed to fetch"); the pages show these words, and live.js
// clears them once the connection is back (see isNetworkMessage).

export const OFFLINE_MESSAGE = "You're offline: this change was not saved.";
export const UNREACHABLE_MESSAGE = "Couldn't reach the server: this change was not saved. Try again in a moment.";

export class GraphQLRequestError extends Error {
  constructor(errors) {
    super(errors.map((error) => error.message).join(" "));
    this.errors = errors;
  }
}

// The request did not get an answer: nothing was changed on the server.
export class NetworkError extends Error {}

// Whether `text` is one of the messages above, which stop being true once
// the server can be reached again.
export function isNetworkMessage(text) {
  return text === OFFLINE_MESSAGE || text === UNREACHABLE_MESSAGE;
}

// `extensions`: the request's GraphQL extensions, such as expectedViewer
// (the account a change was made by: see app/web/graphql_http.py).
export async function graphql(query, variables = {}, extensions = undefined) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/graphql-response+json" },
      credentials: "same-origin",
      body: JSON.stringify(extensions ? { query, variables, extensions } : { query, variables }),
    });
  } catch {
    throw new NetworkError(navigator.onLine === false ? OFFLINE_MESSAGE : UNREACHABLE_MESSAGE);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    // Not our JSON: a proxy's error page, or the answer cut off.
    throw new NetworkError(UNREACHABLE_MESSAGE);
  }
  if (body.errors?.length) throw new GraphQLRequestError(body.errors);
  return body.data;
}
