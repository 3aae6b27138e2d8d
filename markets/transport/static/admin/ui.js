// What every view shares: the notice area (API errors exactly as the API words them, with their
// codes) and the confirm dialog in front of every change.

import { ApiError } from "./api.js";
import { h, replace } from "./dom.js";

const MAX_NOTICES = 4;

/** The list of errors in an ApiError (or any thrown value), as elements. */
export function errorDetails(error) {
  const errors = error instanceof ApiError
    ? error.errors
    : [{ code: "CONSOLE_ERROR", message: String((error && error.message) || error) }];
  return h("ul", { class: "errors" }, errors.map((e) => h("li", {},
    h("code", { class: "code" }, e.code), " ", h("span", { class: "message" }, e.message),
    e.retryAfter ? h("span", { class: "hint" }, ` Try again in ${e.retryAfter} s.`) : null,
    e.fields ? h("ul", { class: "fields" }, Object.entries(e.fields).map(([field, why]) =>
      h("li", {}, h("code", {}, field), `: ${why}`))) : null,
  )));
}

/** An error shown in place of a list that could not load, with a way to try again. */
export function inlineError(title, error, retry) {
  return h("div", { class: "inline-error", role: "alert" },
    h("p", { class: "title" }, title), errorDetails(error),
    h("button", { type: "button", class: "secondary", onClick: retry }, "Try again"));
}

/** The banner area under the header: success, info and error notices, newest first. */
export class Notices {
  constructor() {
    // Errors are announced at once (role=alert on each); successes politely.
    this.element = h("div", { class: "notices", "aria-live": "polite" });
  }

  success(text) {
    // Only the latest success stays: a stack of "Closed …" banners would push the page down.
    this.clearSuccesses();
    this.show("success", h("p", {}, text), "status");
  }

  clearSuccesses() {
    for (const old of this.element.querySelectorAll(".notice-success")) old.remove();
  }

  info(text) {
    this.show("info", h("p", {}, text), "status");
  }

  error(title, error) {
    this.show("error", [h("p", { class: "title" }, title), errorDetails(error)], "alert");
  }

  clear() {
    replace(this.element);
  }

  show(kind, content, role) {
    const notice = h("div", { class: `notice notice-${kind}`, role },
      h("div", { class: "notice-body" }, content),
      h("button", { type: "button", class: "link", "aria-label": "Dismiss this message",
        onClick: () => notice.remove() }, "Dismiss"));
    this.element.prepend(notice);
    while (this.element.children.length > MAX_NOTICES) this.element.lastElementChild.remove();
  }
}

/**
 * Ask before a change: a modal <dialog> (focus moves into it, Escape cancels). `choices` are the
 * buttons that go ahead, [{label, value, danger}]; resolves to the chosen value, or null for
 * "Keep it" or Escape.
 */
export function confirmAction({ title, text, choices }) {
  return new Promise((resolve) => {
    let answer = null;
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" });
    const keep = h("button", { type: "button", class: "secondary", onClick: () => dialog.close() }, "Keep it");
    const buttons = choices.map(({ label, value, danger }) => h("button", {
      type: "button", class: danger ? "danger" : "primary",
      onClick: () => { answer = value; dialog.close(); },
    }, label));
    replace(dialog, h("h2", { id: "confirm-title" }, title), h("p", {}, text),
      h("div", { class: "actions" }, keep, buttons));
    dialog.addEventListener("close", () => { dialog.remove(); resolve(answer); });
    document.body.append(dialog);
    dialog.showModal();
    keep.focus(); // the safe choice has the focus: Enter does not change anything
  });
}
