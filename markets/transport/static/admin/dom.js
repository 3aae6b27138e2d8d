// Small DOM helpers. Everything the API returns goes into the page as text (textContent or
// attribute values), never as HTML, so a market called "<img onerror=…>" stays a name.

/** h("button", {class: "x", onClick: fn}, "Label", child…) → an element. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      element.className = value;
    } else if (key === "value" && "value" in element) {
      element.value = value; // the live value, not only the default
    } else if (value === true) {
      element.setAttribute(key, "");
    } else {
      element.setAttribute(key, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's content. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** A labelled form control: <div class=field><label for=…>…</label>control</div>. */
export function field(label, control) {
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}

/** A <select> whose options are [value, label] pairs, with `selected` chosen. */
export function select(props, options, selected) {
  return h("select", props, options.map(([value, label]) =>
    h("option", { value, selected: value === selected }, label)));
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

/** An ISO date-time as a <time> element: the date in the viewer's locale, the exact instant on
 * hover (title), or an em dash for none. */
export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  return h("time", { datetime: iso, title: iso }, Number.isNaN(date.getTime()) ? iso : dateFormat.format(date));
}
