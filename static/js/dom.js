// Tiny helpers for building and updating the DOM. Text always goes in as
// text, never as HTML, so that user data cannot become markup.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "style") {
      for (const [property, setting] of Object.entries(value)) element.style.setProperty(property, setting);
    }
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// Times as the server renders them (UTC, "2026-12-04 04:21:40 UTC"), so
// a row added live reads like the rows rendered with the page.
function utcParts(iso) {
  const text = new Date(iso).toISOString(); // 2026-12-04T04:21:40.123Z
  return [text.slice(0, 10), text.slice(11, 19)];
}

export function formatTime(iso) {
  return iso ? `${utcParts(iso)[1]} UTC` : "";
}

export function formatDateTime(iso) {
  return iso ? `${utcParts(iso).join(" ")} UTC` : "";
}

// A short message in the page's toast region (not the role="status" one):
// text, or nodes (a link) and text. It leaves after `ms`, but not while the
// pointer or the focus is on it, so that a link in it can be used.
export function toast(content, { ms = 3000 } = {}) {
  const region = document.querySelector("[data-toasts]");
  if (!region) return;
  const item = h("div", { class: "toast" }, content);
  region.append(item);
  let timers = [];
  const stay = () => {
    timers.forEach(clearTimeout);
    item.classList.remove("leaving");
  };
  const leave = (after) => {
    if (item.matches(":hover, :focus-within")) return;
    stay();
    timers = [setTimeout(() => item.classList.add("leaving"), after), setTimeout(() => item.remove(), after + 400)];
  };
  item.addEventListener("pointerenter", stay);
  item.addEventListener("focusin", stay);
  item.addEventListener("pointerleave", () => leave(1000));
  item.addEventListener("focusout", () => setTimeout(() => leave(1000)));
  leave(ms);
}
