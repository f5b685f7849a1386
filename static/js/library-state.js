// What the library page knows, and how each event of the "library" channel
// changes it. No DOM here: the page draws from it (static/js/library.js).
//
// Applying an event twice leaves the same state (each sets what it is
// about), so that events that are both in a fetch and delivered after it,
// replayed in order on top of it, bring the state to the latest one.
// Open Edit forms (`edits`) are told what happens to their item rather
// than being drawn again; their story stays listed while they are open.

export const byName = (a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || a.id.localeCompare(b.id);
const time = (story) => Date.parse(story.createdAt) || 0;

// How many items a fetch asks for (`first:`): fewer back means all of them.
export const PAGE = 100;

export class LibraryState {
  // refetch(): called when an event shows the state cannot be made right
  // from events alone (the filter's tag deleted; a story the page does not
  // hold now carries it).
  constructor({ refetch }) {
    this.refetch = refetch;
    this.stories = new Map(); // id → story, as the API shapes it
    this.shown = []; // ids of the stories listed, newest first
    this.tags = new Map(); // id → tag
    this.total = 0; // stories in the library, filter or not
    this.filterTagId = null;
    this.edits = new Map(); // id → the open Edit form of that story or tag
    // How many events have been about each id: a mutation's answer is
    // applied only if none came meanwhile (they are as new as it, or newer).
    this.touched = new Map();
  }

  carriesFilter(story) {
    return !this.filterTagId || story.tags.some((tag) => tag.id === this.filterTagId);
  }

  // Into the list at its place by age.
  list(story) {
    if (this.shown.includes(story.id)) return;
    const at = this.shown.findIndex((id) => this.stories.has(id) && time(this.stories.get(id)) < time(story));
    this.shown.splice(at < 0 ? this.shown.length : at, 0, story.id);
  }

  // Out of the list, unless its Edit form is open there: that stays.
  unlist(id) {
    if (!this.edits.has(id)) this.shown = this.shown.filter((each) => each !== id);
  }

  putStory(story) {
    this.stories.set(story.id, story);
    if (this.carriesFilter(story)) this.list(story);
    else this.unlist(story.id);
    this.edits.get(story.id)?.changed(story);
  }

  dropStory(id) {
    this.stories.delete(id);
    this.unlist(id);
    this.edits.get(id)?.deleted();
  }

  putTag(tag) {
    this.tags.set(tag.id, tag);
    for (const story of this.stories.values()) {
      if (story.tags.some((each) => each.id === tag.id)) {
        const tags = story.tags.map((each) => (each.id === tag.id ? tag : each)).sort(byName);
        this.stories.set(story.id, { ...story, tags });
      }
    }
    this.edits.get(tag.id)?.changed(tag);
  }

  dropTag(id) {
    this.tags.delete(id);
    for (const story of this.stories.values()) {
      if (story.tags.some((each) => each.id === id)) this.stories.set(story.id, { ...story, tags: story.tags.filter((each) => each.id !== id) });
    }
    this.edits.get(id)?.deleted();
    if (this.filterTagId === id) {
      this.filterTagId = null;
      this.refetch(); // the whole list: the page holds only the tag's stories
    }
  }

  retag(storyId, tagIds, attached) {
    const story = this.stories.get(storyId);
    if (!story) {
      // A story the page has not got is now one of the filter's.
      if (attached && tagIds.includes(this.filterTagId)) this.refetch();
      return;
    }
    const kept = story.tags.filter((tag) => !tagIds.includes(tag.id));
    const added = attached ? tagIds.map((id) => this.tags.get(id)).filter(Boolean) : [];
    this.putStory({ ...story, tags: [...kept, ...added].sort(byName) });
  }

  // One event of the library channel (see app/api/schema.graphql).
  apply(event) {
    const about = event.story?.id ?? event.deletedStoryId ?? event.tag?.id ?? event.deletedTagId ?? event.storyId;
    if (about) this.touched.set(about, (this.touched.get(about) ?? 0) + 1);
    switch (event.__typename) {
      case "StoryCreateEvent":
      case "StoryUpdateEvent":
        this.putStory(event.story);
        break;
      case "StoryDeleteEvent":
        this.dropStory(event.deletedStoryId);
        break;
      case "TagCreateEvent":
      case "TagUpdateEvent":
        this.putTag(event.tag);
        break;
      case "TagDeleteEvent":
        this.dropTag(event.deletedTagId);
        break;
      case "StoryTagEvent":
        this.retag(event.storyId, event.tagIds, true);
        break;
      case "StoryUntagEvent":
        this.retag(event.storyId, event.tagIds, false);
        break;
      case "LibraryChangeEvent":
        this.total = event.totalStories;
        break;
      default:
        break;
    }
  }

  // A fetched library (stories of the filter, tags, the total) in place of
  // what is known; open Edit forms are told what became of their item.
  replace(stories, tags, total) {
    this.stories.clear();
    for (const story of stories) this.stories.set(story.id, story);
    this.tags.clear();
    for (const tag of tags) this.tags.set(tag.id, tag);
    this.total = total;
    const open = this.shown.filter((id) => this.edits.get(id)?.kind === "story");
    this.shown = stories.map((story) => story.id);
    for (const id of open) {
      const edit = this.edits.get(id);
      if (this.stories.has(id)) edit.changed(this.stories.get(id));
      else if (!this.filterTagId && stories.length < PAGE) edit.deleted();
      this.list(edit.item);
    }
    for (const [id, edit] of this.edits) {
      if (edit.kind !== "tag") continue;
      if (this.tags.has(id)) edit.changed(this.tags.get(id));
      else if (tags.length < PAGE) edit.deleted();
    }
  }

  // An Edit form closes: its story leaves the list if it is gone.
  closed(id) {
    this.edits.delete(id);
    if (!this.stories.has(id)) this.shown = this.shown.filter((each) => each !== id);
  }
}
