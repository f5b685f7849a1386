// The counter page's line about who watches it, as presence notices come:
// "3 watching: you, bob and 1 more". Worded as app/web/watching.py words
// the rendered page (templates/watching.html), so the line reads the same
// before and after the script takes over. Names go in as text (h), never
// as HTML; a name too long for its room is cut by CSS, its title whole.
import { h } from "./dom.js";

// Most watchers the line names, "you" included; the others are "N more".
const NAMED = 3;

// Fills `element` from a counterPresence notice ({ watchers, members,
// truncated }), as `viewer` (a username, or undefined when not signed in)
// sees it. Past the server's bound the members are cut: the count alone.
export function showWatching(element, { watchers, members, truncated }, viewer) {
  const usernames = truncated || !members ? [] : members.map((member) => member.username);
  const you = viewer !== undefined && usernames.includes(viewer);
  const others = usernames.filter((name) => name !== viewer);
  const shown = others.slice(0, you ? NAMED - 1 : NAMED);
  const more = Math.max(watchers - usernames.length, 0) + others.length - shown.length;
  const named = [
    ...(you ? [h("span", { class: "member you" }, "you")] : []),
    ...shown.map((name) => h("span", { class: "member", title: name }, name)),
  ];
  if (named.length === 0) {
    element.textContent = `${watchers} watching`;
    return;
  }
  const parts = [`${watchers} watching: `];
  named.forEach((span, index) => {
    if (index > 0) parts.push(index < named.length - 1 || more ? ", " : " and ");
    parts.push(span);
  });
  if (more) parts.push(` and ${more} more`);
  element.replaceChildren(...parts);
}
