// An inline Edit form of one library item (a story or a tag) that other
// tabs cannot wreck.
//
// The form owns its list item while it is open: the page never draws it
// again, so the draft, the caret and the focus stay whatever else happens.
// What other tabs do to the same item is told to the form instead
// (`changed`, `deleted`), and it says so beside the draft: "Changed in
// another tab" with their version and a choice ("Use theirs" puts it in the
// fields, "Keep mine" lets Save write the draft over it), or "Deleted in
// another tab" with a way to make the draft a new item.
import { h } from "./dom.js";
import { clearFieldErrors, showFieldErrors } from "./form-errors.js";

export class EditForm {
  // item: the story or tag as the API shapes it. spec: what differs between
  // kinds — kind ("story" | "tag"), label (of the form), fields ([{ name,
  // label, show(item) }] that a change elsewhere is compared on), content()
  // (the form's fields), draft(form) and fill(form, item) (the values in the
  // fields, out and in), check(draft) ([[field, words]] refused before
  // asking the server), recreate ("Add it again") and gone (what to say
  // when deleted). actions: save(draft) and recreate(draft), which return a
  // promise (a rejection is a refusal, shown by refused(form, error)), and
  // close(edit).
  constructor(item, spec, actions) {
    this.id = item.id;
    this.kind = spec.kind;
    this.item = item; // what the draft started from, or was last reconciled with
    this.theirs = null;
    this.saving = false;
    this.gone = false;
    this.spec = spec;
    this.actions = actions;
    this.save = h("button", { type: "submit", class: "primary" }, "Save");
    this.buttons = h("div", { class: "row" }, this.save, h("button", { type: "button", onclick: () => actions.close(this) }, "Cancel"));
    this.form = h("form", { class: "stack edit", novalidate: true, "aria-label": spec.label }, ...spec.content(), this.buttons);
    this.form.addEventListener("submit", (submit) => {
      submit.preventDefault();
      this.submit();
    });
    this.el = h("li", { class: `${spec.kind} editing`, dataset: { id: item.id } }, this.form);
  }

  focus() {
    this.form.elements[0].focus();
  }

  same(a, b) {
    return this.spec.fields.every((field) => a[field.name] === b[field.name]);
  }

  // The item changed elsewhere: if what the form edits changed, say so
  // beside the draft and let the person choose.
  changed(item) {
    if (this.saving || this.gone) {
      this.item = item;
      return;
    }
    if (this.same(item, this.item)) {
      this.item = item;
      if (this.theirs) this.note();
      this.theirs = null;
      return;
    }
    const shownAlready = this.theirs && this.same(item, this.theirs);
    this.theirs = item;
    if (shownAlready) return; // (a tag added to the story, say: nothing new to show)
    const pairs = this.spec.fields.filter((field) => item[field.name] !== this.item[field.name])
      .flatMap((field) => [h("dt", {}, `${field.label} now`), h("dd", {}, field.show(item))]);
    this.note(
      h("strong", {}, "Changed in another tab."),
      h("span", {}, "Your draft is kept; their version:"),
      h("dl", {}, ...pairs),
      h("div", { class: "row" },
        h("button", { type: "button", class: "small", onclick: () => this.useTheirs() }, "Use theirs"),
        h("button", { type: "button", class: "small", onclick: () => this.keepMine() }, "Keep mine")));
  }

  useTheirs() {
    this.spec.fill(this.form, this.theirs);
    this.keepMine();
  }

  // Saving will write the draft over their version.
  keepMine() {
    this.item = this.theirs;
    this.theirs = null;
    this.note();
    this.focus();
  }

  deleted() {
    this.gone = true;
    this.theirs = null;
    this.save.disabled = true;
    this.el.classList.add("gone");
    this.note(
      h("strong", {}, "Deleted in another tab."),
      h("span", {}, this.spec.gone),
      h("div", { class: "row" },
        h("button", { type: "button", class: "small", onclick: () => this.run(this.actions.recreate) }, this.spec.recreate),
        h("button", { type: "button", class: "small", onclick: () => this.actions.close(this) }, "Close")));
  }

  // A note above the form's buttons, in place of the one before; none
  // without content.
  note(...content) {
    this.form.querySelector(".edit-note")?.remove();
    if (content.length) this.buttons.before(h("div", { class: `edit-note${this.gone ? " gone" : ""}`, "aria-live": "polite" }, ...content));
  }

  submit() {
    return this.run(this.actions.save);
  }

  // Checks the draft, hands it to `action`, and closes the form once done.
  async run(action) {
    clearFieldErrors(this.form);
    const draft = this.spec.draft(this.form);
    const wrong = this.spec.check(draft);
    if (wrong.length) {
      showFieldErrors(this.form, wrong);
      return;
    }
    this.saving = true;
    this.save.disabled = true;
    try {
      await action(draft);
    } catch (error) {
      this.saving = false;
      this.save.disabled = this.gone;
      this.actions.refused(this.form, error);
      return;
    }
    this.actions.close(this);
  }
}
