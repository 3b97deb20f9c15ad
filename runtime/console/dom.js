// Builds the page's elements. Text always goes in as text, never parsed
// as HTML: whatever a plugin wrote (names, models, attributes, errors)
// shows as the characters it wrote, with control and direction-changing
// characters made visible so that none can disguise what is around it.

const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0]/gu;

/** `text` with each invisible or direction-changing character shown as <U+XXXX>. */
export function visible(text) {
  return String(text).replace(HIDDEN, (c) =>
    `<U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}>`);
}

/** An element: `props` are attributes, `on…` listeners, `class`; children are nodes or text. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (value === true) element.setAttribute(name, "");
    else if (value !== false && value != null) element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

/** Replaces what `element` holds with `children`. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(visible(child)));
  }
}

/** A table of `rows` (arrays of cells) under `headings`. */
export function table(headings, rows, props = {}) {
  return h("table", props,
    h("thead", {}, h("tr", {}, headings.map((name) => h("th", {}, name)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))));
}

/** A message that an action failed, with the hub's code. */
export function failure(error) {
  return h("p", { class: "error", role: "alert" }, error.code ? `${error.code}: ` : "", error.message);
}

export function bytes(n) {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`;
}

/** Asks in a modal dialog; whether the operator confirmed. */
export function confirmed(question) {
  const dialog = h("dialog", { id: "confirm" },
    h("p", {}, question),
    h("form", { method: "dialog" },
      h("button", { value: "cancel" }, "Cancel"),
      h("button", { value: "yes", id: "confirm-yes", autofocus: true }, "Confirm")));
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => {
    dialog.remove();
    resolve(dialog.returnValue === "yes");
  }));
}
