// Which operation a GraphQL document runs, read the way the spec's lexer
// reads it: comments, strings and fragments are skipped, so a document
// that starts with a comment or a fragment is still what its operation is.

const KEYWORDS = new Set(["query", "mutation", "subscription", "fragment"]);

// The document's top-level definitions: [{ kind, name }], kind being
// "query" | "mutation" | "subscription" | "fragment". A shorthand
// `{ ... }` is an anonymous query.
export function definitions(document) {
  const found = [];
  let depth = 0;
  let pending = null; // a definition whose selection set has not opened yet
  let expectName = false;
  let i = 0;
  while (i < document.length) {
    const c = document[i];
    if (c === "#") {
      while (i < document.length && document[i] !== "\n" && document[i] !== "\r") i += 1;
    } else if (document.startsWith('"""', i)) {
      i += 3;
      while (i < document.length && !document.startsWith('"""', i)) i += document.startsWith('\\"""', i) ? 4 : 1;
      i += 3;
    } else if (c === '"') {
      i += 1;
      while (i < document.length && document[i] !== '"' && document[i] !== "\n") i += document[i] === "\\" ? 2 : 1;
      i += 1;
    } else if (c === "{") {
      if (depth === 0) {
        found.push(pending ?? { kind: "query", name: null });
        pending = null;
      }
      depth += 1;
      i += 1;
    } else if (c === "}") {
      depth = Math.max(0, depth - 1);
      i += 1;
    } else if (/[_A-Za-z]/.test(c)) {
      const word = /^[_A-Za-z][_0-9A-Za-z]*/.exec(document.slice(i))[0];
      if (depth === 0 && pending === null && KEYWORDS.has(word)) {
        pending = { kind: word, name: null };
        expectName = true;
      } else if (expectName) {
        pending.name = word; // the name right after the keyword, if any
        expectName = false;
      }
      i += word.length;
      continue;
    } else {
      i += 1;
    }
    // Anything but white space between the keyword and a name: no name.
    if (!/[\s,]/.test(c)) expectName = false;
  }
  return found;
}

// The operation to run: the one named, or else the first. Null when the
// document holds none (only fragments, or nothing).
export function selectedOperation(document, operationName = null) {
  const operations = definitions(document).filter((d) => d.kind !== "fragment");
  if (operationName) return operations.find((d) => d.name === operationName) ?? null;
  return operations[0] ?? null;
}
