// The library page: the viewer's stories and tags, kept in step with every
// other tab of the same user through the "library" channel.
//
// The page starts from what the server rendered, at the stream position it
// was rendered at, and applies each event of the channel in place: only
// the items an event is about are drawn again, so that an open Edit form,
// its draft, caret and focus survive whatever other tabs do. A change to
// the very item being edited is shown beside its form ("Changed in another
// tab") and never written over the draft; its deletion is said there too.
// Applying an event twice leaves the same state, so an event that is both
// in a fetch and delivered after it does no harm. The page fetches its
// state only when filtering by a tag, and when the server says it cannot
// replay what was missed. The state and how events change it live in
// library-state.js, the Edit forms in library-edit.js; this module draws.
//
// Every change goes by way of the viewer's outbox (outbox.js) with a key
// of its own: one made while the server cannot be reached waits in this
// browser (across reloads, shown under "waiting to be sent") and is sent
// once the page is back in touch, applied once however often it is sent.
// The outbox is the viewer's alone: another account signed in on the same
// browser neither sees nor sends it. A waiting change the server refuses
// when it finally goes is kept in view with the server's words and all
// that was written in it, until dismissed.
import { graphql } from "./graphql.js";
import { LiveConnection, oneAtATime, renderedPosition, showConnectionState } from "./live.js";
import { formatDateTime, h } from "./dom.js";
import { Outbox, renderedKeyWindow } from "./outbox.js";
import { clearFieldErrors, fromServer, showFieldErrors } from "./form-errors.js";
import { EditForm } from "./library-edit.js";
import { LibraryState, PAGE, byName } from "./library-state.js";
import { showNotifications } from "./notifications.js";

const root = document.querySelector("[data-library]");
const storiesEl = root.querySelector("[data-stories]");
const tagsEl = root.querySelector("[data-tags]");
const totalEl = root.querySelector("[data-total]");
const errorEl = root.querySelector("[data-error]");
const filterEl = root.querySelector("[data-filter-note]");
const tabsEl = root.querySelector("[data-tabs]");
const outboxEl = root.querySelector("[data-outbox]");

const STORY = "id url title description createdAt tags { id name color }";
const TAG = "id name color";
const LIBRARY = `query($tagId: ID) { library {
  stories(first: ${PAGE}, tagId: $tagId) { edges { node { ${STORY} } } }
  all: stories(first: 0) { totalCount }
  tags(first: ${PAGE}) { edges { node { ${TAG} } } } } }`;
const EVENTS = `subscription { channel(name: "library") { __typename
  ... on StoryCreateEvent { story { ${STORY} } }
  ... on StoryUpdateEvent { story { ${STORY} } }
  ... on StoryDeleteEvent { deletedStoryId }
  ... on TagCreateEvent { tag { ${TAG} } }
  ... on TagUpdateEvent { tag { ${TAG} } }
  ... on TagDeleteEvent { deletedTagId }
  ... on StoryTagEvent { storyId tagIds }
  ... on StoryUntagEvent { storyId tagIds }
  ... on LibraryChangeEvent { totalStories } } }`;
// The library's changes, each with the outbox's key ($k) as its clientMutationId.
const M = {
  createStory: `mutation($u: String!, $t: String!, $d: String, $k: String) { createStory(url: $u, title: $t, description: $d, clientMutationId: $k) { ${STORY} } }`,
  updateStory: `mutation($id: ID!, $t: String, $d: String, $k: String) { updateStory(id: $id, title: $t, description: $d, clientMutationId: $k) { ${STORY} } }`,
  deleteStory: "mutation($id: ID!, $k: String) { deleteStory(id: $id, clientMutationId: $k) }",
  tagStory: `mutation($s: ID!, $t: [ID!]!, $k: String) { tagStory(storyId: $s, tagIds: $t, clientMutationId: $k) { ${STORY} } }`,
  untagStory: `mutation($s: ID!, $t: [ID!]!, $k: String) { untagStory(storyId: $s, tagIds: $t, clientMutationId: $k) { ${STORY} } }`,
  createTag: `mutation($n: String!, $c: String!, $k: String) { createTag(name: $n, color: $c, clientMutationId: $k) { ${TAG} } }`,
  updateTag: `mutation($id: ID!, $n: String, $c: String, $k: String) { updateTag(id: $id, name: $n, color: $c, clientMutationId: $k) { ${TAG} } }`,
  deleteTag: "mutation($id: ID!, $k: String) { deleteTag(id: $id, clientMutationId: $k) }",
};

// ------------------------------------------------------------------ state

const state = new LibraryState({ refetch: () => refresh() });
const { stories, tags, edits, touched } = state; // (the same maps throughout)
const putStory = (story) => state.putStory(story);
const putTag = (tag) => state.putTag(tag);

// What the server rendered: the page's state at its stream position.
function readRendered() {
  for (const item of tagsEl.querySelectorAll(".tag[data-id]")) {
    const { id, name, color } = item.dataset;
    tags.set(id, { id, name, color });
  }
  for (const item of storiesEl.querySelectorAll(".story[data-id]")) {
    const link = item.querySelector(".story-title");
    const chips = [...item.querySelectorAll(".chip[data-tag-id]")];
    stories.set(item.dataset.id, {
      id: item.dataset.id,
      url: link.getAttribute("href"),
      title: link.textContent,
      description: item.querySelector(".description")?.textContent ?? null,
      createdAt: item.dataset.created,
      tags: chips.map((chip) => tags.get(chip.dataset.tagId) ?? { id: chip.dataset.tagId, name: chip.textContent, color: chip.style.getPropertyValue("--tag").trim() }),
    });
    state.shown.push(item.dataset.id);
  }
  state.total = Number.parseInt(totalEl.textContent, 10) || 0;
}

// One change from the outbox, with its key: sent again after a lost
// answer, the server answers as the first time and changes nothing.
// Each names the account it was made by: sent under another's session (a
// tab left open while someone else signed in), it is refused and waits
// (outbox.js), and the page is loaded again as the account signed in now.
async function sendChange(entry) {
  const data = await graphql(M[entry.op], { ...entry.vars, k: entry.key }, { expectedViewer: root.dataset.user });
  return data[entry.op];
}

const outbox = new Outbox(`library:${root.dataset.user}`, sendChange, { keyWindow: renderedKeyWindow(root) });

// Makes the change `op` (a mutation of M, with `vars`) by way of the
// outbox. `words` say it in the outbox's list, `detail` is what was
// written in it (shown there too, so that a refused change loses none of
// it). Resolves with the server's answer, applied with `use` unless an
// event about `about` (the item's id; a create's is its answer's) came
// meanwhile: the event is as new as the answer, or newer. Resolves with
// null when the change waits; rejects with the server's refusal.
async function change(op, vars, { about = null, use, words, detail = [] }) {
  const before = touched.get(about) ?? 0;
  const entry = outbox.add({ op, vars, about, words, detail: detail.filter(Boolean) });
  const answer = await outbox.outcome(entry);
  if (answer === null) return null;
  const key = about ?? answer?.id;
  if ((touched.get(key) ?? 0) === before) use(answer);
  render();
  return answer;
}

// ---------------------------------------------------------------- drawing

function chip(tag, ...extra) {
  return h("span", { class: "chip", style: { "--tag": tag.color } }, h("span", { class: "swatch", "aria-hidden": "true" }), tag.name, ...extra);
}

const safeId = (id) => id.replace(/[^\w-]/g, "_");

function showError(error) {
  errorEl.textContent = error ? error.message ?? String(error) : "";
}

// Runs an action of a button; its failure is shown in the page's alert.
async function act(task) {
  showError(null);
  try {
    await task();
  } catch (error) {
    showError(error);
  }
}

function storyItem(story) {
  const picker = h("select", { "aria-label": `Add a tag to ${story.title}`, dataset: { focus: "picker" } });
  picker.addEventListener("change", () => {
    const tagId = picker.value;
    if (!tagId) return;
    act(() => change("tagStory", { s: story.id, t: [tagId] }, { about: story.id, use: putStory, words: `Tag “${story.title}” with “${tags.get(tagId)?.name}”` }));
  });
  return h("li", { class: "story", dataset: { id: story.id } },
    h("div", { class: "story-main" },
      h("a", { class: "story-title", href: story.url, rel: "noopener noreferrer", dataset: { focus: "link" } }, story.title),
      story.description ? h("p", { class: "description" }, story.description) : null,
      h("p", { class: "chips" }, ...story.tags.map((tag) => chip(tag,
        h("button", { type: "button", class: "chip-remove", "aria-label": `Remove tag ${tag.name} from ${story.title}`, dataset: { focus: `untag-${tag.id}` },
          onclick: () => act(() => change("untagStory", { s: story.id, t: [tag.id] }, { about: story.id, use: putStory, words: `Untag “${story.title}” from “${tag.name}”` })) }, "×"))))),
    h("div", { class: "story-actions" },
      picker,
      h("button", { type: "button", "aria-label": `Edit ${story.title}`, dataset: { focus: "edit" }, onclick: () => openEdit(storyEdit(story)) }, "Edit"),
      h("button", { type: "button", class: "danger", "aria-label": `Delete ${story.title}`, dataset: { focus: "delete" }, onclick: () => {
        if (confirm(`Delete “${story.title}”?`)) act(() => change("deleteStory", { id: story.id }, { about: story.id, use: () => state.dropStory(story.id), words: `Delete story “${story.title}”` }));
      } }, "Delete")),
  );
}

// The tags a story can still be given, refilled only when they change (a
// focused, even open, picker keeps its place).
function fillPicker(picker, story) {
  const attached = new Set(story.tags.map((tag) => tag.id));
  const addable = [...tags.values()].filter((tag) => !attached.has(tag.id)).sort(byName);
  const key = JSON.stringify(addable.map((tag) => [tag.id, tag.name]));
  if (picker.dataset.key === key) return;
  picker.dataset.key = key;
  picker.replaceChildren(h("option", { value: "" }, "Add tag…"), ...addable.map((tag) => h("option", { value: tag.id }, tag.name)));
  picker.hidden = addable.length === 0;
}

function tagItem(tag) {
  const active = state.filterTagId === tag.id;
  return h("li", { class: "tag", dataset: { id: tag.id } },
    h("button", { type: "button", class: `chip-button${active ? " active" : ""}`, "aria-pressed": String(active), dataset: { focus: "filter" },
      "aria-label": `Show stories tagged ${tag.name}`, onclick: () => filterBy(active ? null : tag.id) }, chip(tag)),
    h("span", { class: "tag-actions" },
      h("button", { type: "button", class: "link", "aria-label": `Edit tag ${tag.name}`, dataset: { focus: "edit" }, onclick: () => openEdit(tagEdit(tag)) }, "Edit"),
      h("button", { type: "button", class: "link danger", "aria-label": `Delete tag ${tag.name}`, dataset: { focus: "delete" }, onclick: () => {
        if (confirm(`Delete the tag “${tag.name}” from every story?`)) act(() => change("deleteTag", { id: tag.id }, { about: tag.id, use: () => state.dropTag(tag.id), words: `Delete tag “${tag.name}”` }));
      } }, "Delete")),
  );
}

// The item drawn for each id, and what it was drawn from: drawn again only
// when that changes.
const views = new Map();
let refocus = null;

function view(id, key, draw) {
  const edit = edits.get(id);
  if (edit) return edit.el;
  let drawn = views.get(id);
  if (!drawn || drawn.key !== key) {
    const el = draw();
    // Drawn again under the focus: the focus goes to the same control.
    const focused = drawn?.el.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
    // (Or to its Edit button, when that control is gone, as an untagged tag's ×.)
    if (focused) refocus = () => (el.querySelector(`[data-focus="${CSS.escape(focused)}"]`) ?? el.querySelector("[data-focus=edit]"))?.focus();
    drawn = { key, el };
    views.set(id, drawn);
  }
  return drawn.el;
}

// Puts `wanted` in `parent` in order, moving as few as it can: the ones in
// place stay, so that a focus inside them stays too.
function place(parent, wanted) {
  const keep = new Set(wanted);
  for (const child of [...parent.children]) if (!keep.has(child)) child.remove();
  let cursor = parent.firstElementChild;
  for (const el of wanted) {
    if (el === cursor) cursor = cursor.nextElementSibling;
    else parent.insertBefore(el, cursor);
  }
}

const emptyStories = h("li", { class: "empty" });
const emptyTags = h("li", { class: "empty" }, "No tags yet.");

function render() {
  const { total, shown, filterTagId } = state;
  totalEl.textContent = `${total} ${total === 1 ? "story" : "stories"}`;
  const storyEls = shown.filter((id) => stories.has(id) || edits.has(id)).map((id) => {
    const story = stories.get(id);
    const el = view(id, story && JSON.stringify([story.url, story.title, story.description, story.tags]), () => storyItem(story));
    if (!edits.has(id)) fillPicker(el.querySelector("select"), story);
    return el;
  });
  emptyStories.textContent = filterTagId ? "No stories with this tag." : "No stories yet: add the first one above.";
  place(storiesEl, storyEls.length ? storyEls : [emptyStories]);

  const tagIds = [...tags.values()].sort(byName).map((tag) => tag.id);
  for (const [id, edit] of edits) if (edit.kind === "tag" && !tags.has(id)) tagIds.push(id);
  const tagEls = tagIds.map((id) => {
    const tag = tags.get(id);
    return view(id, tag && JSON.stringify([tag.name, tag.color, filterTagId === id]), () => tagItem(tag));
  });
  place(tagsEl, tagEls.length ? tagEls : [emptyTags]);

  const live = new Set([...shown, ...tagIds]);
  for (const id of views.keys()) if (!live.has(id)) views.delete(id);

  const filterTag = tags.get(filterTagId);
  filterEl.hidden = !filterTag;
  if (filterTag) {
    filterEl.replaceChildren("Showing stories tagged ", chip(filterTag), " ",
      h("button", { type: "button", class: "link", onclick: () => filterBy(null) }, "Show all"));
  }
  refocus?.();
  refocus = null;
  markWaiting();
}

// Many events in one go (a reconnect's replay) are drawn once.
let drawing = false;
function renderSoon() {
  if (drawing) return;
  drawing = true;
  queueMicrotask(() => {
    drawing = false;
    render();
  });
}

// -------------------------------------------------------------- edit forms

const longColor = (color) => (color.length === 4 ? `#${[...color.slice(1)].map((c) => c + c).join("")}` : color);
const closing = { close: (edit) => closeEdit(edit), refused };

function storyEdit(story) {
  const id = safeId(story.id);
  return new EditForm(story, {
    kind: "story",
    label: `Edit ${story.title}`,
    fields: [
      { name: "title", label: "Title", show: (each) => each.title },
      { name: "description", label: "Description", show: (each) => each.description ?? "(none)" },
    ],
    content: () => [
      h("label", { for: `t-${id}` }, "Title"),
      h("input", { id: `t-${id}`, name: "title", value: story.title, required: true, maxlength: 300 }),
      h("label", { for: `d-${id}` }, "Description"),
      h("textarea", { id: `d-${id}`, name: "description", rows: 2, maxlength: 5000 }, story.description ?? ""),
    ],
    draft: (form) => ({ title: form.elements.title.value, description: form.elements.description.value.trim() || null }),
    fill: (form, each) => {
      form.elements.title.value = each.title;
      form.elements.description.value = each.description ?? "";
    },
    check: (draft) => (draft.title.trim() ? [] : [["title", "Title can't be empty"]]),
    recreate: "Add it again",
    gone: "Your draft is still here: add it again as a new story, or close it.",
  }, {
    ...closing,
    save: ({ title, description }) => change("updateStory", { id: story.id, t: title, d: description }, { about: story.id, use: putStory, words: `Edit story “${story.title}”`, detail: [title, description] }),
    recreate: ({ title, description }) => change("createStory", { u: story.url, t: title, d: description }, { use: putStory, words: `Add story “${title}” again`, detail: [story.url, description] }),
  });
}

function tagEdit(tag) {
  return new EditForm(tag, {
    kind: "tag",
    label: `Edit tag ${tag.name}`,
    fields: [
      { name: "name", label: "Name", show: (each) => each.name },
      { name: "color", label: "Colour", show: (each) => chip(each) },
    ],
    content: () => [h("div", { class: "row" },
      h("input", { name: "name", value: tag.name, required: true, maxlength: 50, "aria-label": "Tag name" }),
      h("input", { name: "color", type: "color", value: longColor(tag.color), "aria-label": "Tag colour" }))],
    draft: (form) => ({ name: form.elements.name.value, color: form.elements.color.value }),
    fill: (form, each) => {
      form.elements.name.value = each.name;
      form.elements.color.value = longColor(each.color);
    },
    check: (draft) => (draft.name.trim() ? [] : [["name", "Tag name can't be empty"]]),
    recreate: "Create it again",
    gone: "Your draft is still here: create it again, or close it.",
  }, {
    ...closing,
    save: ({ name, color }) => change("updateTag", { id: tag.id, n: name, c: color }, { about: tag.id, use: putTag, words: `Edit tag “${tag.name}”`, detail: [name, color] }),
    recreate: ({ name, color }) => change("createTag", { n: name, c: color }, { use: putTag, words: `Create tag “${name}” again`, detail: [color] }),
  });
}

function openEdit(edit) {
  edits.set(edit.id, edit);
  render();
  edit.focus();
}

// Back to the item as it is now; the focus to its Edit button.
function closeEdit(edit) {
  if (edits.get(edit.id) !== edit) return;
  state.closed(edit.id);
  render();
  views.get(edit.id)?.el.querySelector("[data-focus=edit]")?.focus();
}

// A refused change: at its fields when the words are about them, else in
// the page's alert.
function refused(form, error) {
  const errors = fromServer(error, form);
  if (errors) showFieldErrors(form, errors);
  else showError(error);
}

// ---------------------------------------------------------------- fetching

// Events that arrive while the state is fetched wait here, to be applied
// on top of it (again, if the fetch has them already: no harm).
let held = null;

// One fetch at a time: what changes during it is applied after it. Later
// calls see the latest filter.
const refresh = oneAtATime(async () => {
  held = [];
  try {
    const { library } = await graphql(LIBRARY, { tagId: state.filterTagId });
    const nodes = (connection) => connection.edges.map((edge) => edge.node);
    state.replace(nodes(library.stories), nodes(library.tags), library.all.totalCount);
  } catch (error) {
    showError(error);
  } finally {
    const waiting = held;
    held = null;
    for (const event of waiting) state.apply(event);
    render();
  }
});

function filterBy(tagId) {
  state.filterTagId = tagId;
  render();
  refresh();
}

function onEvent(payload) {
  const event = payload.data?.channel;
  if (!event) {
    if (payload.errors?.length) showError(new Error(payload.errors[0].message));
    return;
  }
  if (held) held.push(event);
  else {
    state.apply(event);
    renderSoon();
  }
}

// ------------------------------------------------------------------ forms

// Submits `form`'s change with `send`: its button is busy meanwhile (a
// second press would make a second story), and once it is in (or waits in
// the outbox) the fields that still hold what was sent are emptied, so
// that what the person typed meanwhile (the next story, say) stays. A
// refusal is said at the fields, which keep the draft.
async function submitting(form, names, send) {
  const sent = Object.fromEntries(names.map((name) => [name, form.elements[name].value]));
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await send();
  } catch (error) {
    refused(form, error);
    return;
  } finally {
    button.disabled = false;
  }
  for (const [name, value] of Object.entries(sent)) if (form.elements[name].value === value) form.elements[name].value = "";
}

const addStory = root.querySelector("[data-add-story]");
addStory.noValidate = true; // our words, at the field
addStory.addEventListener("submit", async (submit) => {
  submit.preventDefault();
  const form = addStory.elements;
  clearFieldErrors(addStory);
  showError(null);
  const url = form.url.value.trim();
  const title = form.title.value;
  const description = form.description.value.trim();
  const wrong = [];
  if (!url) wrong.push(["url", "Enter the story's link, starting with https://"]);
  else if (!/^https?:\/\//i.test(url)) wrong.push(["url", "Use a link that starts with https://"]);
  if (!title.trim()) wrong.push(["title", "Title can't be empty"]);
  if (wrong.length) {
    showFieldErrors(addStory, wrong);
    return;
  }
  await submitting(addStory, ["url", "title", "description"], () =>
    change("createStory", { u: url, t: title, d: description || null }, { use: putStory, words: `Add story “${title}”`, detail: [url, description] }));
});

const addTag = root.querySelector("[data-add-tag]");
addTag.noValidate = true;
addTag.addEventListener("submit", async (submit) => {
  submit.preventDefault();
  clearFieldErrors(addTag);
  showError(null);
  if (!addTag.elements.name.value.trim()) {
    showFieldErrors(addTag, [["name", "Tag name can't be empty"]]);
    return;
  }
  const { name, color } = addTag.elements;
  await submitting(addTag, ["name"], () =>
    change("createTag", { n: name.value, c: color.value }, { use: putTag, words: `Create tag “${name.value}”`, detail: [color.value] }));
});

// ----------------------------------------------------------------- outbox

const outboxNote = h("p", { class: "meta" });
const outboxList = h("ul", { class: "outbox-list" });
outboxEl.replaceChildren(outboxNote, outboxList);

function outboxItem(entry) {
  const refused = Boolean(entry.refused);
  return h("li", { class: refused ? "refused" : "pending", dataset: { key: entry.key } },
    h("span", { class: "what" }, refused ? `Not saved: ${entry.words}` : entry.words),
    ...(entry.detail ?? []).map((text) => h("span", { class: "detail" }, text)),
    refused
      ? h("span", { class: "why" }, entry.refused)
      : h("span", { class: "meta" }, "waiting to be sent · ", h("time", { datetime: entry.at }, formatDateTime(entry.at))),
    refused ? h("button", { type: "button", class: "link", "aria-label": `Dismiss: ${entry.words}`, onclick: () => outbox.remove(entry) }, "Dismiss") : null);
}

// The stories and tags that changes wait for are marked so.
function markWaiting() {
  const about = new Set(outbox.waiting().map((entry) => entry.about).filter(Boolean));
  for (const item of root.querySelectorAll(".story[data-id], .tag[data-id]")) item.classList.toggle("waiting", about.has(item.dataset.id));
}

// What waits to be sent, and what was refused when it went, oldest first.
function showOutbox() {
  const waiting = outbox.waiting();
  const refused = outbox.refused();
  outboxEl.hidden = waiting.length === 0 && refused.length === 0;
  outboxNote.textContent = waiting.length === 1 ? "1 change waiting to be sent" : `${waiting.length} changes waiting to be sent`;
  outboxNote.hidden = waiting.length === 0;
  outboxList.replaceChildren(...refused.map(outboxItem), ...waiting.map(outboxItem));
  markWaiting();
}

outbox.addEventListener("change", showOutbox);
// Refused when it went from the outbox, with nobody's form open on it.
outbox.addEventListener("refused", ({ detail: { entry, error } }) => outbox.keep(entry, error));

// ------------------------------------------------------------------- live

readRendered();
render();
showOutbox();

const live = new LiveConnection();
showConnectionState(live, root.querySelector("[role=status]"), { offline: "You're offline — changes will be sent when you're back" });
live.subscribe(EVENTS, {}, {
  next: onEvent,
  // Only when the server cannot replay what was missed (or the page was
  // rendered without a position): a reconnect otherwise replays it.
  reset: refresh,
  error: (errors) => {
    if (errors[0]?.extensions?.code === "UNAUTHENTICATED") location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    else showError(new Error(errors[0]?.message));
  },
}, { since: renderedPosition(root) });
// How many of the viewer's tabs are open, this one included, and on what:
// "3 tabs open: Chrome on Linux (2), Firefox on Android". Past the server's
// bound (no devices told), the count alone.
function showTabs({ tabs, devices }) {
  const words = `${tabs} ${tabs === 1 ? "tab" : "tabs"} open`;
  const counts = new Map();
  for (const { label } of devices ?? []) counts.set(label, (counts.get(label) ?? 0) + 1);
  const kinds = [...counts].map(([label, n]) => (n > 1 ? `${label} (${n})` : label));
  tabsEl.textContent = kinds.length ? `${words}: ${kinds.join(", ")}` : words;
}

live.subscribe("subscription { libraryPresence { tabs devices { label } } }", {}, {
  next: (payload) => {
    const presence = payload.data?.libraryPresence;
    if (presence) showTabs(presence);
  },
});
// Others' changes to the counters the viewer follows, as toasts.
showNotifications(live);
// Back in touch with the server: send what waits.
// A socket connects with the browser's session as it is now: if another
// account signed in meanwhile (in another tab), this page is that
// account's no more, and is loaded again as the account signed in now
// (its outbox, which is the old account's, waits for it). Asked on the
// socket itself, whose session is the one its events come by.
function checkTheViewer() {
  live.subscribe("query { viewer { id } }", {}, {
    next: (payload) => {
      if (payload.data && payload.data.viewer?.id !== root.dataset.user) location.reload();
    },
  });
}

live.addEventListener("connected", () => {
  checkTheViewer();
  outbox.flush();
});
addEventListener("online", () => outbox.flush());
outbox.flush();
live.connect();
