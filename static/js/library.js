// The library page: the viewer's stories and tags, kept in step with every
// other tab of the same user through the "library" channel.
import { graphql } from "./graphql.js";
import { LiveConnection, oneAtATime, showConnectionState } from "./live.js";
import { h } from "./dom.js";

const root = document.querySelector("[data-library]");
const storiesEl = root.querySelector("[data-stories]");
const tagsEl = root.querySelector("[data-tags]");
const totalEl = root.querySelector("[data-total]");
const errorEl = root.querySelector("[data-error]");
const filterEl = root.querySelector("[data-filter-note]");
const tabsEl = root.querySelector("[data-tabs]");

const STORY = "id url title description createdAt tags { id name color }";
const LIBRARY = `query($tagId: ID) { library {
  stories(first: 100, tagId: $tagId) { totalCount edges { node { ${STORY} } } }
  all: stories(first: 0) { totalCount }
  tags(first: 100) { edges { node { id name color } } } } }`;

let state = { stories: [], tags: [], total: 0 };
let filterTagId = null;
const editing = new Set(); // ids of items whose edit form is open

function showError(error) {
  errorEl.textContent = error ? error.message ?? String(error) : "";
}

async function run(query, variables) {
  try {
    showError(null);
    return await graphql(query, variables);
  } catch (error) {
    showError(error);
    return null;
  }
}

function chip(tag, ...extra) {
  return h("span", { class: "chip", style: { "--tag": tag.color } }, h("span", { class: "swatch", "aria-hidden": "true" }), tag.name, ...extra);
}

function storyItem(story) {
  const item = h("li", { class: "story", dataset: { id: story.id } });
  if (editing.has(story.id)) {
    const form = h("form", { class: "stack edit" },
      h("label", { for: `t-${story.id}` }, "Title"),
      h("input", { id: `t-${story.id}`, name: "title", value: story.title, required: true, maxlength: 300 }),
      h("label", { for: `d-${story.id}` }, "Description"),
      h("textarea", { id: `d-${story.id}`, name: "description", rows: 2, maxlength: 5000 }, story.description ?? ""),
      h("div", { class: "row" },
        h("button", { type: "submit", class: "primary" }, "Save"),
        h("button", { type: "button", onclick: () => { editing.delete(story.id); render(); } }, "Cancel")));
    form.addEventListener("submit", async (submit) => {
      submit.preventDefault();
      const description = form.elements.description.value.trim();
      const done = await run("mutation($id: ID!, $t: String, $d: String) { updateStory(id: $id, title: $t, description: $d) { id } }",
        { id: story.id, t: form.elements.title.value, d: description || null });
      if (done) { editing.delete(story.id); await refresh(); }
    });
    item.append(form);
    return item;
  }
  const attached = new Set(story.tags.map((tag) => tag.id));
  const addable = state.tags.filter((tag) => !attached.has(tag.id));
  const picker = h("select", { "aria-label": `Add a tag to ${story.title}` },
    h("option", { value: "" }, "Add tag…"), ...addable.map((tag) => h("option", { value: tag.id }, tag.name)));
  picker.addEventListener("change", () => picker.value && run(
    "mutation($s: ID!, $t: [ID!]!) { tagStory(storyId: $s, tagIds: $t) { id } }", { s: story.id, t: [picker.value] }).then(refresh));
  item.append(
    h("div", { class: "story-main" },
      h("a", { class: "story-title", href: story.url, rel: "noopener noreferrer" }, story.title),
      story.description ? h("p", { class: "description" }, story.description) : null,
      h("p", { class: "chips" }, ...story.tags.map((tag) => chip(tag,
        h("button", { type: "button", class: "chip-remove", "aria-label": `Remove tag ${tag.name} from ${story.title}`,
          onclick: () => run("mutation($s: ID!, $t: [ID!]!) { untagStory(storyId: $s, tagIds: $t) { id } }", { s: story.id, t: [tag.id] }).then(refresh) }, "×"))))),
    h("div", { class: "story-actions" },
      addable.length ? picker : null,
      h("button", { type: "button", "aria-label": `Edit ${story.title}`, onclick: () => { editing.add(story.id); render(); } }, "Edit"),
      h("button", { type: "button", class: "danger", "aria-label": `Delete ${story.title}`, onclick: () => {
        if (confirm(`Delete “${story.title}”?`)) run("mutation($id: ID!) { deleteStory(id: $id) }", { id: story.id }).then(refresh);
      } }, "Delete")),
  );
  return item;
}

function tagItem(tag) {
  const item = h("li", { class: "tag", dataset: { id: tag.id } });
  if (editing.has(tag.id)) {
    const form = h("form", { class: "row edit" },
      h("input", { name: "name", value: tag.name, required: true, maxlength: 50, "aria-label": "Tag name" }),
      h("input", { name: "color", type: "color", value: tag.color.length === 4 ? `#${[...tag.color.slice(1)].map((c) => c + c).join("")}` : tag.color, "aria-label": "Tag colour" }),
      h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button", onclick: () => { editing.delete(tag.id); render(); } }, "Cancel"));
    form.addEventListener("submit", async (submit) => {
      submit.preventDefault();
      const done = await run("mutation($id: ID!, $n: String, $c: String) { updateTag(id: $id, name: $n, color: $c) { id } }",
        { id: tag.id, n: form.elements.name.value, c: form.elements.color.value });
      if (done) { editing.delete(tag.id); await refresh(); }
    });
    item.append(form);
    return item;
  }
  item.append(
    h("button", { type: "button", class: `chip-button${filterTagId === tag.id ? " active" : ""}`, "aria-pressed": String(filterTagId === tag.id),
      "aria-label": `Show stories tagged ${tag.name}`, onclick: () => { filterTagId = filterTagId === tag.id ? null : tag.id; refresh(); } }, chip(tag)),
    h("span", { class: "tag-actions" },
      h("button", { type: "button", class: "link", "aria-label": `Edit tag ${tag.name}`, onclick: () => { editing.add(tag.id); render(); } }, "Edit"),
      h("button", { type: "button", class: "link danger", "aria-label": `Delete tag ${tag.name}`, onclick: () => {
        if (confirm(`Delete the tag “${tag.name}” from every story?`)) run("mutation($id: ID!) { deleteTag(id: $id) }", { id: tag.id }).then(refresh);
      } }, "Delete")),
  );
  return item;
}

function render() {
  const { stories, tags, total } = state;
  totalEl.textContent = `${total} ${total === 1 ? "story" : "stories"}`;
  storiesEl.replaceChildren(...(stories.length ? stories.map(storyItem) : [h("li", { class: "empty" }, filterTagId ? "No stories with this tag." : "No stories yet: add the first one above.")]));
  tagsEl.replaceChildren(...(tags.length ? tags.map(tagItem) : [h("li", { class: "empty" }, "No tags yet.")]));
  const filterTag = tags.find((tag) => tag.id === filterTagId);
  filterEl.hidden = !filterTag;
  if (filterTag) {
    filterEl.replaceChildren("Showing stories tagged ", chip(filterTag), " ",
      h("button", { type: "button", class: "link", onclick: () => { filterTagId = null; refresh(); } }, "Show all"));
  }
}

// One fetch at a time: what changes during it is fetched once after it (a
// reconnect's replay of many events included). Later calls also see the
// latest filter.
const refresh = oneAtATime(async () => {
  // Not through run(): a refresh that ends after a failed change (one queued
  // behind another, say) must not clear that change's error.
  let data;
  try {
    data = await graphql(LIBRARY, { tagId: filterTagId });
  } catch (error) {
    showError(error);
    return;
  }
  const library = data.library;
  state = {
    stories: library.stories.edges.map((edge) => edge.node),
    tags: library.tags.edges.map((edge) => edge.node),
    total: library.all.totalCount,
  };
  if (filterTagId && !state.tags.some((tag) => tag.id === filterTagId)) { filterTagId = null; refresh(); return; }
  render();
});

// Events arrive in bursts (a change and its library:change): fetch once.
let pending = null;
function refreshSoon() {
  clearTimeout(pending);
  pending = setTimeout(refresh, 30);
}

root.querySelector("[data-add-story]").addEventListener("submit", async (submit) => {
  submit.preventDefault();
  const form = submit.target;
  const description = form.elements.description.value.trim();
  const done = await run("mutation($u: String!, $t: String!, $d: String) { createStory(url: $u, title: $t, description: $d) { id } }",
    { u: form.elements.url.value.trim(), t: form.elements.title.value, d: description || null });
  if (done) { form.reset(); await refresh(); }
});

root.querySelector("[data-add-tag]").addEventListener("submit", async (submit) => {
  submit.preventDefault();
  const form = submit.target;
  const done = await run("mutation($n: String!, $c: String!) { createTag(name: $n, color: $c) { id } }",
    { n: form.elements.name.value, c: form.elements.color.value });
  if (done) { form.elements.name.value = ""; await refresh(); }
});

const live = new LiveConnection();
showConnectionState(live, root.querySelector("[role=status]"));
live.subscribe('subscription { channel(name: "library") { __typename } }', {}, {
  next: refreshSoon,
  // The first time (the page may be older than the subscription), and when
  // the server cannot resume the stream; a reconnect otherwise replays the
  // events missed, which fetch through `next`.
  reset: refresh,
  error: (errors) => {
    if (errors[0]?.extensions?.code === "UNAUTHENTICATED") location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    else showError(new Error(errors[0]?.message));
  },
});
// How many of the viewer's tabs are open, this one included.
live.subscribe("subscription { libraryPresence { tabs } }", {}, {
  next: (payload) => {
    const tabs = payload.data?.libraryPresence.tabs;
    if (tabs !== undefined) tabsEl.textContent = `${tabs} ${tabs === 1 ? "tab" : "tabs"} open`;
  },
});
live.connect();
