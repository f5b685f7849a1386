// The counter page's Follow button: a toggle (aria-pressed) the server
// rendered in the viewer's state (templates/follow.html), changed here with
// followCounter/unfollowCounter instead of the form's post. It never shows
// a state the server has not said: it waits, disabled, for the answer,
// whose followedByViewer is the state it shows. Other tabs of this browser
// on the same counter and viewer hear of it (a BroadcastChannel) and show
// it too; a tab elsewhere shows it once reloaded.
import { NetworkError, graphql } from "./graphql.js";
import { newKey } from "./outbox.js";

const CHANGES = {
  true: ["followCounter", "mutation($name: String!, $key: String) { followCounter(name: $name, clientMutationId: $key) { followedByViewer } }"],
  false: ["unfollowCounter", "mutation($name: String!, $key: String) { unfollowCounter(name: $name, clientMutationId: $key) { followedByViewer } }"],
};

const NO_ANSWER = "No answer from the server: it may or may not have taken this. Press again to make sure.";

// `form`: the button's form; `errorEl`: where a refusal is said in words.
export function followButton(form, { name, viewer, errorEl }) {
  const button = form.querySelector("[data-follow]");
  const tabs = "BroadcastChannel" in window ? new BroadcastChannel(`follow:${viewer}:${name}`) : null;
  const show = (following) => {
    button.setAttribute("aria-pressed", String(following));
    button.textContent = following ? "Following" : "Follow";
    button.value = following ? "0" : "1"; // what the form would post next
  };
  // A press whose answer never came: pressed again for the same state, it
  // is sent with the same key, so the server makes it once whatever
  // happened meanwhile.
  let unanswered = null;
  tabs?.addEventListener("message", ({ data }) => {
    // Another tab's answer: a press after it is a new change, not a retry
    // of one from before it (whose key the server would answer as then).
    unanswered = null;
    show(data.following);
  });
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    // aria-disabled, not disabled: the button keeps the keyboard's focus.
    if (button.getAttribute("aria-disabled") === "true") return;
    const wanted = button.getAttribute("aria-pressed") !== "true";
    const key = unanswered?.wanted === wanted ? unanswered.key : newKey();
    const [field, query] = CHANGES[wanted];
    button.setAttribute("aria-disabled", "true");
    errorEl.textContent = "";
    try {
      const following = (await graphql(query, { name, key }))[field].followedByViewer;
      unanswered = null;
      show(following);
      tabs?.postMessage({ following });
    } catch (error) {
      unanswered = error.errors ? null : { wanted, key }; // refused: a next press is a new one
      // No answer: the server may have made it or not; pressing again
      // (with the same key) settles it either way.
      errorEl.textContent = error instanceof NetworkError ? NO_ANSWER : error.message;
    } finally {
      button.removeAttribute("aria-disabled");
    }
  });
}
