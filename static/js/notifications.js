// Notifications, shown as toasts on the pages that hold a live connection:
// other people's changes to the counters the viewer follows, heard on the
// "notifications" channel over the page's own connection. Each says who
// changed which counter (its name links to its page) and how: "bob changed
// likes: 3 → 4". A burst (several at once, as a reconnect's replay of what
// was missed) is one toast with the count, as the counter page does.
import { h, toast } from "./dom.js";
import { renderedPosition } from "./live.js";

const NOTIFICATIONS = `subscription { channel(name: "notifications") {
  ... on FollowedCounterChangeEvent { counterName previousValue value actor { username } } } }`;
// Notifications that come within this of the first are one burst.
const GATHER_MS = 300;
// More than this many at once are told as one toast.
const MOST_TOLD_ONE_BY_ONE = 3;
// Read and perhaps followed: a little longer than a page's own toasts.
const SHOWN_MS = 6000;

function told(event) {
  const who = event.actor ? event.actor.username : "Someone";
  const counter = h("a", { href: `/counters/${encodeURIComponent(event.counterName)}` }, event.counterName);
  return [`${who} changed `, counter, `: ${event.previousValue} → ${event.value}`];
}

// Subscribes `live` (a LiveConnection) to the viewer's notifications, if
// the page says someone is signed in, from the position it was rendered
// at (so none sent before the socket opened is missed). `skip`: a counter
// whose changes the page already tells of itself.
export function showNotifications(live, { skip = null } = {}) {
  const region = document.querySelector("[data-toasts]");
  if (!region?.hasAttribute("data-signed-in")) return;
  let gathered = [];
  const tell = () => {
    const burst = gathered;
    gathered = [];
    if (burst.length > MOST_TOLD_ONE_BY_ONE) {
      toast([`${burst.length} changes to counters you follow, the last: `, ...told(burst.at(-1))], { ms: SHOWN_MS });
      return;
    }
    for (const event of burst) toast(told(event), { ms: SHOWN_MS });
  };
  // No `reset`: what a page shows does not hang on notifications, so one
  // missed past what the server keeps is simply not told.
  live.subscribe(NOTIFICATIONS, {}, {
    next: (payload) => {
      const event = payload.data?.channel;
      if (!event || event.counterName === skip) return;
      gathered.push(event);
      if (gathered.length === 1) setTimeout(tell, GATHER_MS);
    },
  }, { since: renderedPosition(region) });
}
