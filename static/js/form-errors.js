// Errors said at the field they are about, in words for people.
//
// A field in error gets aria-invalid="true", a message right after it that
// it names with aria-describedby, and the first of them the focus, so that
// both eyes and screen readers land on what to fix. The server's
// BAD_USER_INPUT messages are precise but written for API clients ("A
// title is 1 to 300 characters after trimming; got 0."); `fromServer`
// turns the ones the library forms can meet into such field errors.
import { GraphQLRequestError } from "./graphql.js";
import { h } from "./dom.js";

// [the server's message, the field it is about, the words to show]
const SERVER_MESSAGES = [
  [/^A title is 1 to \d+ characters after trimming; got 0\./, "title", () => "Title can't be empty"],
  [/^A story needs a title/, "title", () => "Title can't be empty"],
  [/^A title is 1 to (\d+) characters/, "title", (m) => `Title can be at most ${m[1]} characters`],
  [/^A story URL must be absolute/, "url", () => "Use a link that starts with https://"],
  [/^A URL may have at most (\d+) characters/, "url", (m) => `That link is too long: at most ${m[1]} characters`],
  [/^That URL is already in your library as story \S+ \((['"])(.*)\1\)\.$/s, "url",
    (m) => `This link is already in your library, as “${m[2]}”.`],
  [/^A description may have at most (\d+) characters/, "description", (m) => `Description can be at most ${m[1]} characters`],
  [/^A tag name is 1 to \d+ characters; got 0\./, "name", () => "Tag name can't be empty"],
  [/^A tag name is 1 to (\d+) characters/, "name", (m) => `Tag name can be at most ${m[1]} characters`],
  [/^You already have a tag named/, "name", () => "You already have a tag with this name"],
  [/^A colour is a hex colour/, "color", () => "Pick a colour"],
];

let made = 0;

// The field errors in a failed request to the server, as [field, words]
// pairs, keeping to fields that `form` has; null when some error is not
// about one of them (the caller shows that one as it is).
export function fromServer(error, form) {
  if (!(error instanceof GraphQLRequestError)) return null;
  const found = [];
  for (const each of error.errors) {
    if (each.extensions?.code !== "BAD_USER_INPUT") return null;
    const field = typeof each.extensions.field === "string" ? [each.extensions.field, each.message] : match(each.message);
    if (!field || !form.elements.namedItem(field[0])) return null;
    found.push(field);
  }
  return found.length ? found : null;
}

function match(message) {
  for (const [pattern, field, words] of SERVER_MESSAGES) {
    const found = pattern.exec(message);
    if (found) return [field, words(found)];
  }
  return null;
}

// Shows `errors` ([field name, words] pairs) at their fields of `form`, in
// place of any shown before, and moves the focus to the first such field in
// the form's order. Says whether any was shown.
export function showFieldErrors(form, errors) {
  clearFieldErrors(form);
  const words = new Map(errors);
  let first = null;
  for (const field of form.elements) {
    if (!words.has(field.name)) continue;
    const message = words.get(field.name);
    words.delete(field.name);
    if (!field.id) field.id = `field-${++made}`;
    const note = h("p", { class: "field-error", id: `${field.id}-error`, "data-field-error": field.name }, message);
    field.after(note);
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", note.id);
    // Mended, the message goes.
    field.addEventListener("input", () => clearField(field), { once: true });
    first ??= field;
  }
  first?.focus();
  return first !== null;
}

export function clearFieldErrors(form) {
  for (const field of form.elements) clearField(field);
}

function clearField(field) {
  if (field.getAttribute("aria-invalid") !== "true") return;
  field.removeAttribute("aria-invalid");
  const described = field.getAttribute("aria-describedby");
  field.removeAttribute("aria-describedby");
  if (described) document.getElementById(described)?.remove();
}
