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
// replay what was missed.
import { graphql } from "./graphql.js";
import { LiveConnection, oneAtATime, renderedPosition, showConnectionState } from "./live.js";
import { h } from "./dom.js";
import { clearFieldErrors, fromServer, showFieldErrors } from "./form-errors.js";

const root = document.querySelector("[data-library]");
const storiesEl = root.querySelector("[data-stories]");
const tagsEl = root.querySelector("[data-tags]");
const totalEl = root.querySelector("[data-total]");
const errorEl = root.querySelector("[data-error]");
const filterEl = root.querySelector("[data-filter-note]");
const tabsEl = root.querySelector("[data-tabs]");

const STORY = "id url title description createdAt tags { id name color }";
const TAG = "id name color";
const LIBRARY = `query($tagId: ID) { library {
  stories(first: 100, tagId: $tagId) { edges { node { ${STORY} } } }
  all: stories(first: 0) { totalCount }
  tags(first: 100) { edges { node { ${TAG} } } } } }`;
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
const M = {
  createStory: `mutation($u: String!, $t: String!, $d: String) { createStory(url: $u, title: $t, description: $d) { ${STORY} } }`,
  updateStory: `mutation($id: ID!, $t: String, $d: String) { updateStory(id: $id, title: $t, description: $d) { ${STORY} } }`,
  deleteStory: "mutation($id: ID!) { deleteStory(id: $id) }",
  tagStory: `mutation($s: ID!, $t: [ID!]!) { tagStory(storyId: $s, tagIds: $t) { ${STORY} } }`,
  untagStory: `mutation($s: ID!, $t: [ID!]!) { untagStory(storyId: $s, tagIds: $t) { ${STORY} } }`,
  createTag: `mutation($n: String!, $c: String!) { createTag(name: $n, color: $c) { ${TAG} } }`,
  updateTag: `mutation($id: ID!, $n: String, $c: String) { updateTag(id: $id, name: $n, color: $c) { ${TAG} } }`,
  deleteTag: "mutation($id: ID!) { deleteTag(id: $id) }",
};

// ------------------------------------------------------------------ state

const stories = new Map(); // id → story, as the API shapes it
let shown = []; // ids of the stories listed, newest first
const tags = new Map(); // id → tag
let total = 0; // stories in the library, filter or not
let filterTagId = null;
const edits = new Map(); // id → the open Edit form of that story or tag
// How many events have been about each id: a mutation's answer is applied
// only if none came meanwhile (they are newer than it, or the same).
const touched = new Map();

const byName = (a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || a.id.localeCompare(b.id);
const time = (story) => Date.parse(story.createdAt) || 0;

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
      tags: chips.map((chip) => tags.get(chip.dataset.tagId) ?? { id: chip.dataset.tagId, name: chip.textContent, color: chip.style.getPropertyValue("--tag") }),
    });
    shown.push(item.dataset.id);
  }
  total = Number.parseInt(totalEl.textContent, 10) || 0;
}

const carriesFilter = (story) => !filterTagId || story.tags.some((tag) => tag.id === filterTagId);

function list(story) {
  if (shown.includes(story.id)) return;
  const at = shown.findIndex((id) => stories.has(id) && time(stories.get(id)) < time(story));
  shown.splice(at < 0 ? shown.length : at, 0, story.id);
}

// Out of the list, unless its Edit form is open there: that stays.
function unlist(id) {
  if (!edits.has(id)) shown = shown.filter((each) => each !== id);
}

function putStory(story) {
  stories.set(story.id, story);
  if (carriesFilter(story)) list(story);
  else unlist(story.id);
  edits.get(story.id)?.changed(story);
}

function dropStory(id) {
  stories.delete(id);
  unlist(id);
  edits.get(id)?.deleted();
}

function putTag(tag) {
  tags.set(tag.id, tag);
  for (const story of stories.values()) {
    if (story.tags.some((each) => each.id === tag.id)) {
      stories.set(story.id, { ...story, tags: story.tags.map((each) => (each.id === tag.id ? tag : each)).sort(byName) });
    }
  }
  edits.get(tag.id)?.changed(tag);
}

function dropTag(id) {
  tags.delete(id);
  for (const story of stories.values()) {
    if (story.tags.some((each) => each.id === id)) stories.set(story.id, { ...story, tags: story.tags.filter((each) => each.id !== id) });
  }
  edits.get(id)?.deleted();
  if (filterTagId === id) {
    filterTagId = null;
    refresh(); // the whole list: the page holds only the tag's stories
  }
}

function retag(storyId, tagIds, attached) {
  const story = stories.get(storyId);
  if (!story) {
    // A story the page has not got is now one of the filter's.
    if (attached && tagIds.includes(filterTagId)) refresh();
    return;
  }
  const kept = story.tags.filter((tag) => !tagIds.includes(tag.id));
  const added = attached ? tagIds.map((id) => tags.get(id)).filter(Boolean) : [];
  putStory({ ...story, tags: [...kept, ...added].sort(byName) });
}

// One event of the library channel, applied to the state (not yet drawn).
function apply(event) {
  const about = event.story?.id ?? event.deletedStoryId ?? event.tag?.id ?? event.deletedTagId ?? event.storyId;
  if (about) touched.set(about, (touched.get(about) ?? 0) + 1);
  switch (event.__typename) {
    case "StoryCreateEvent":
    case "StoryUpdateEvent":
      putStory(event.story);
      break;
    case "StoryDeleteEvent":
      dropStory(event.deletedStoryId);
      break;
    case "TagCreateEvent":
    case "TagUpdateEvent":
      putTag(event.tag);
      break;
    case "TagDeleteEvent":
      dropTag(event.deletedTagId);
      break;
    case "StoryTagEvent":
      retag(event.storyId, event.tagIds, true);
      break;
    case "StoryUntagEvent":
      retag(event.storyId, event.tagIds, false);
      break;
    case "LibraryChangeEvent":
      total = event.totalStories;
      break;
    default:
      break;
  }
}

// A fetched library in place of the page's state; open Edit forms are
// told what became of their item.
function replaceState(library) {
  const fetched = library.stories.edges.map((edge) => edge.node);
  const fetchedTags = library.tags.edges.map((edge) => edge.node);
  stories.clear();
  for (const story of fetched) stories.set(story.id, story);
  tags.clear();
  for (const tag of fetchedTags) tags.set(tag.id, tag);
  total = library.all.totalCount;
  const open = shown.filter((id) => edits.get(id) instanceof StoryEdit);
  shown = fetched.map((story) => story.id);
  for (const id of open) {
    const edit = edits.get(id);
    if (stories.has(id)) edit.changed(stories.get(id));
    else if (!filterTagId && fetched.length < 100) edit.deleted();
    if (!shown.includes(id)) list(edit.story);
  }
  for (const [id, edit] of edits) {
    if (!(edit instanceof TagEdit)) continue;
    if (tags.has(id)) edit.changed(tags.get(id));
    else if (fetchedTags.length < 100) edit.deleted();
  }
}

// Calls `task` (a mutation); applies its answer with `use` unless an event
// about `id` came meanwhile (the event is as new as the answer, or newer).
async function change(id, task, use) {
  const before = touched.get(id) ?? 0;
  const answer = await task();
  const key = id ?? answer?.id;
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
    act(() => change(story.id, () => graphql(M.tagStory, { s: story.id, t: [tagId] }).then((data) => data.tagStory), putStory));
  });
  return h("li", { class: "story", dataset: { id: story.id } },
    h("div", { class: "story-main" },
      h("a", { class: "story-title", href: story.url, rel: "noopener noreferrer", dataset: { focus: "link" } }, story.title),
      story.description ? h("p", { class: "description" }, story.description) : null,
      h("p", { class: "chips" }, ...story.tags.map((tag) => chip(tag,
        h("button", { type: "button", class: "chip-remove", "aria-label": `Remove tag ${tag.name} from ${story.title}`, dataset: { focus: `untag-${tag.id}` },
          onclick: () => act(() => change(story.id, () => graphql(M.untagStory, { s: story.id, t: [tag.id] }).then((data) => data.untagStory), putStory)) }, "×"))))),
    h("div", { class: "story-actions" },
      picker,
      h("button", { type: "button", "aria-label": `Edit ${story.title}`, dataset: { focus: "edit" }, onclick: () => openEdit(new StoryEdit(story)) }, "Edit"),
      h("button", { type: "button", class: "danger", "aria-label": `Delete ${story.title}`, dataset: { focus: "delete" }, onclick: () => {
        if (confirm(`Delete “${story.title}”?`)) act(() => change(story.id, () => graphql(M.deleteStory, { id: story.id }), () => dropStory(story.id)));
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
  const active = filterTagId === tag.id;
  return h("li", { class: "tag", dataset: { id: tag.id } },
    h("button", { type: "button", class: `chip-button${active ? " active" : ""}`, "aria-pressed": String(active), dataset: { focus: "filter" },
      "aria-label": `Show stories tagged ${tag.name}`, onclick: () => filterBy(active ? null : tag.id) }, chip(tag)),
    h("span", { class: "tag-actions" },
      h("button", { type: "button", class: "link", "aria-label": `Edit tag ${tag.name}`, dataset: { focus: "edit" }, onclick: () => openEdit(new TagEdit(tag)) }, "Edit"),
      h("button", { type: "button", class: "link danger", "aria-label": `Delete tag ${tag.name}`, dataset: { focus: "delete" }, onclick: () => {
        if (confirm(`Delete the tag “${tag.name}” from every story?`)) act(() => change(tag.id, () => graphql(M.deleteTag, { id: tag.id }), () => dropTag(tag.id)));
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
  for (const id of edits.keys()) if (edits.get(id) instanceof TagEdit && !tags.has(id)) tagIds.push(id);
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

// A note in an open form about what another tab did to its item.
function note(form, before, ...content) {
  form.querySelector(".edit-note")?.remove();
  if (!content.length) return;
  before.before(h("div", { class: "edit-note", "aria-live": "polite" }, ...content));
}

function changes(pairs) {
  return h("dl", {}, ...pairs.flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
}

class StoryEdit {
  constructor(story) {
    this.id = story.id;
    this.story = story; // what the draft started from, or was last reconciled with
    this.theirs = null;
    this.saving = false;
    const id = safeId(story.id);
    this.save = h("button", { type: "submit", class: "primary" }, "Save");
    this.buttons = h("div", { class: "row" }, this.save,
      h("button", { type: "button", onclick: () => this.close() }, "Cancel"));
    this.form = h("form", { class: "stack edit", novalidate: true, "aria-label": `Edit ${story.title}` },
      h("label", { for: `t-${id}` }, "Title"),
      h("input", { id: `t-${id}`, name: "title", value: story.title, required: true, maxlength: 300 }),
      h("label", { for: `d-${id}` }, "Description"),
      h("textarea", { id: `d-${id}`, name: "description", rows: 2, maxlength: 5000 }, story.description ?? ""),
      this.buttons);
    this.form.addEventListener("submit", (submit) => {
      submit.preventDefault();
      this.submit();
    });
    this.el = h("li", { class: "story editing", dataset: { id: story.id } }, this.form);
  }

  focus() {
    this.form.elements.title.focus();
  }

  draft() {
    const description = this.form.elements.description.value.trim();
    return { title: this.form.elements.title.value, description: description || null };
  }

  // The story changed elsewhere: if what the form shows changed, say so
  // beside the draft and let the person choose.
  changed(story) {
    if (this.saving || this.gone) {
      this.story = story;
      return;
    }
    const same = (a, b) => a.title === b.title && a.description === b.description;
    if (same(story, this.story)) {
      this.story = story;
      if (this.theirs) note(this.form, this.buttons);
      this.theirs = null;
      return;
    }
    const shownAlready = this.theirs && same(story, this.theirs);
    this.theirs = story;
    if (shownAlready) return; // (a tag added, say: nothing new to show)
    const pairs = [];
    if (story.title !== this.story.title) pairs.push(["Title now", story.title]);
    if (story.description !== this.story.description) pairs.push(["Description now", story.description ?? "(none)"]);
    note(this.form, this.buttons,
      h("strong", {}, "Changed in another tab."),
      h("span", {}, "Your draft is kept; their version:"),
      changes(pairs),
      h("div", { class: "row" },
        h("button", { type: "button", class: "small", onclick: () => this.useTheirs() }, "Use theirs"),
        h("button", { type: "button", class: "small", onclick: () => this.keepMine() }, "Keep mine")));
  }

  useTheirs() {
    const { title, description } = this.theirs;
    this.form.elements.title.value = title;
    this.form.elements.description.value = description ?? "";
    this.keepMine();
  }

  // Saving will write the draft over their version.
  keepMine() {
    this.story = this.theirs;
    this.theirs = null;
    note(this.form, this.buttons);
    this.focus();
  }

  deleted() {
    this.gone = true;
    this.theirs = null;
    this.save.disabled = true;
    note(this.form, this.buttons,
      h("strong", {}, "Deleted in another tab."),
      h("span", {}, "Your draft is still here: add it again as a new story, or close it."),
      h("div", { class: "row" },
        h("button", { type: "button", class: "small", onclick: () => this.addAgain() }, "Add it again"),
        h("button", { type: "button", class: "small", onclick: () => this.close() }, "Close")));
    this.el.classList.add("gone");
  }

  close() {
    closeEdit(this);
  }

  async submit() {
    clearFieldErrors(this.form);
    const { title, description } = this.draft();
    if (!title.trim()) {
      showFieldErrors(this.form, [["title", "Title can't be empty"]]);
      return;
    }
    this.saving = true;
    this.save.disabled = true;
    try {
      await change(this.id, () => graphql(M.updateStory, { id: this.id, t: title, d: description }).then((data) => data.updateStory), putStory);
    } catch (error) {
      this.saving = false;
      this.save.disabled = Boolean(this.gone);
      refused(this.form, error);
      return;
    }
    closeEdit(this);
  }

  async addAgain() {
    clearFieldErrors(this.form);
    const { title, description } = this.draft();
    try {
      const story = await graphql(M.createStory, { u: this.story.url, t: title, d: description }).then((data) => data.createStory);
      closeEdit(this);
      if (!touched.has(story.id)) putStory(story);
      render();
    } catch (error) {
      refused(this.form, error);
    }
  }
}

const longColor = (color) => (color.length === 4 ? `#${[...color.slice(1)].map((c) => c + c).join("")}` : color);

class TagEdit {
  constructor(tag) {
    this.id = tag.id;
    this.tag = tag;
    this.theirs = null;
    this.saving = false;
    this.save = h("button", { type: "submit", class: "primary" }, "Save");
    this.buttons = h("div", { class: "row" }, this.save, h("button", { type: "button", onclick: () => this.close() }, "Cancel"));
    this.form = h("form", { class: "stack edit", novalidate: true, "aria-label": `Edit tag ${tag.name}` },
      h("div", { class: "row" },
        h("input", { name: "name", value: tag.name, required: true, maxlength: 50, "aria-label": "Tag name" }),
        h("input", { name: "color", type: "color", value: longColor(tag.color), "aria-label": "Tag colour" })),
      this.buttons);
    this.form.addEventListener("submit", (submit) => {
      submit.preventDefault();
      this.submit();
    });
    this.el = h("li", { class: "tag editing", dataset: { id: tag.id } }, this.form);
  }

  focus() {
    this.form.elements.name.focus();
  }

  changed(tag) {
    if (this.saving || this.gone) {
      this.tag = tag;
      return;
    }
    const same = (a, b) => a.name === b.name && a.color === b.color;
    if (same(tag, this.tag)) {
      this.tag = tag;
      if (this.theirs) note(this.form, this.buttons);
      this.theirs = null;
      return;
    }
    const shownAlready = this.theirs && same(tag, this.theirs);
    this.theirs = tag;
    if (shownAlready) return;
    const pairs = [];
    if (tag.name !== this.tag.name) pairs.push(["Name now", tag.name]);
    if (tag.color !== this.tag.color) pairs.push(["Colour now", chip(tag)]);
    note(this.form, this.buttons,
      h("strong", {}, "Changed in another tab."),
      changes(pairs),
      h("div", { class: "row" },
        h("button", { type: "button", class: "small", onclick: () => this.useTheirs() }, "Use theirs"),
        h("button", { type: "button", class: "small", onclick: () => this.keepMine() }, "Keep mine")));
  }

  useTheirs() {
    this.form.elements.name.value = this.theirs.name;
    this.form.elements.color.value = longColor(this.theirs.color);
    this.keepMine();
  }

  keepMine() {
    this.tag = this.theirs;
    this.theirs = null;
    note(this.form, this.buttons);
    this.focus();
  }

  deleted() {
    this.gone = true;
    this.theirs = null;
    this.save.disabled = true;
    note(this.form, this.buttons,
      h("strong", {}, "Deleted in another tab."),
      h("div", { class: "row" },
        h("button", { type: "button", class: "small", onclick: () => this.addAgain() }, "Create it again"),
        h("button", { type: "button", class: "small", onclick: () => this.close() }, "Close")));
  }

  close() {
    closeEdit(this);
  }

  values() {
    return { n: this.form.elements.name.value, c: this.form.elements.color.value };
  }

  async submit() {
    clearFieldErrors(this.form);
    if (!this.form.elements.name.value.trim()) {
      showFieldErrors(this.form, [["name", "Tag name can't be empty"]]);
      return;
    }
    this.saving = true;
    this.save.disabled = true;
    try {
      await change(this.id, () => graphql(M.updateTag, { id: this.id, ...this.values() }).then((data) => data.updateTag), putTag);
    } catch (error) {
      this.saving = false;
      this.save.disabled = Boolean(this.gone);
      refused(this.form, error);
      return;
    }
    closeEdit(this);
  }

  async addAgain() {
    clearFieldErrors(this.form);
    try {
      const tag = await graphql(M.createTag, this.values()).then((data) => data.createTag);
      closeEdit(this);
      if (!touched.has(tag.id)) putTag(tag);
      render();
    } catch (error) {
      refused(this.form, error);
    }
  }
}

function openEdit(edit) {
  edits.set(edit.id, edit);
  render();
  edit.focus();
}

// Back to the item as it is now; the focus to its Edit button.
function closeEdit(edit) {
  if (edits.get(edit.id) !== edit) return;
  edits.delete(edit.id);
  if (!stories.has(edit.id)) shown = shown.filter((id) => id !== edit.id);
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
    const data = await graphql(LIBRARY, { tagId: filterTagId });
    replaceState(data.library);
  } catch (error) {
    showError(error);
  } finally {
    const waiting = held;
    held = null;
    for (const event of waiting) apply(event);
    render();
  }
});

function filterBy(tagId) {
  filterTagId = tagId;
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
    apply(event);
    renderSoon();
  }
}

// ------------------------------------------------------------------ forms

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
  try {
    await change(null, () => graphql(M.createStory, { u: url, t: title, d: description || null }).then((data) => data.createStory), putStory);
  } catch (error) {
    refused(addStory, error);
    return;
  }
  addStory.reset();
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
  try {
    await change(null, () => graphql(M.createTag, { n: addTag.elements.name.value, c: addTag.elements.color.value }).then((data) => data.createTag), putTag);
  } catch (error) {
    refused(addTag, error);
    return;
  }
  addTag.elements.name.value = "";
});

// ------------------------------------------------------------------- live

readRendered();
render();

const live = new LiveConnection();
showConnectionState(live, root.querySelector("[role=status]"));
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
// How many of the viewer's tabs are open, this one included.
live.subscribe("subscription { libraryPresence { tabs } }", {}, {
  next: (payload) => {
    const tabs = payload.data?.libraryPresence.tabs;
    if (tabs !== undefined) tabsEl.textContent = `${tabs} ${tabs === 1 ? "tab" : "tabs"} open`;
  },
});
live.connect();
