// Users: list them by role (admins only, as the API decides), look one up by id, change roles,
// adjust balances (credit or debit, with a note). The users connection pages forward only
// (first/after), so "Previous" replays the cursor that led to the page before.

import { field, h, replace, select, time } from "../dom.js";
import { ADJUST_BALANCE, ROLES, SET_USER_ROLE, USER, USERS } from "../operations.js";
import { confirmAction, inlineError } from "../ui.js";

const PAGE_SIZE = 20;
const COLUMNS = ["Name", "Email", "Role", "Balance", "Joined", "Id", "Actions"];

const hidden = () => h("span", { class: "muted" }, "hidden");

export function usersView(context) {
  const state = { role: "", cursors: [undefined] }; // cursors[i]: the `after` of page i + 1
  const listResults = h("div", { class: "results", "aria-live": "polite" });
  const foundResult = h("div", { class: "results", "aria-live": "polite" });

  // Look one user up by id.
  const idInput = h("input", { id: "user-id", type: "text", required: true, spellcheck: "false",
    autocomplete: "off", placeholder: "e.g. VXNlcjox" });
  const findForm = h("form", { class: "filters", role: "search", "aria-label": "Find a user by id",
    onSubmit: (event) => {
      event.preventDefault();
      find();
    } },
  field("User id", idInput),
  h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "primary" }, "Find user")));

  // Answers can arrive out of order: only the newest request of each kind may draw.
  let latestFind = 0;
  let latestList = 0;

  async function find() {
    const id = idInput.value.trim();
    if (!id) return;
    const request = ++latestFind;
    try {
      const data = await context.call(USER, { id });
      if (request !== latestFind) return;
      replace(foundResult, data.user
        ? table("Found user", [data.user])
        : h("p", { class: "empty" }, `No user has the id ${id}.`));
    } catch (error) {
      if (request === latestFind) replace(foundResult, inlineError("Could not look the user up:", error, find));
    }
  }

  // List by role.
  const role = select({ id: "user-role" }, [["", "Any role"], ...ROLES.map((r) => [r, r])], state.role);
  const listForm = h("form", { class: "filters", "aria-label": "List users", onSubmit: (event) => {
    event.preventDefault();
    state.role = role.value;
    state.cursors = [undefined];
    list();
  } },
  field("Role", role),
  h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "primary" }, "List users")));

  async function list() {
    const after = state.cursors[state.cursors.length - 1];
    const request = ++latestList;
    listResults.setAttribute("aria-busy", "true");
    try {
      const data = await context.call(USERS, { role: state.role || undefined, first: PAGE_SIZE, after });
      if (request !== latestList) return;
      const { edges, pageInfo, totalCount } = data.users;
      const page = state.cursors.length;
      const summary = h("p", { class: "summary" },
        `${totalCount} ${totalCount === 1 ? "user" : "users"}${totalCount ? ` · page ${page}` : ""}`);
      const pager = h("nav", { class: "pager", "aria-label": "User pages" },
        h("button", { type: "button", class: "secondary", disabled: page === 1, onClick: () => {
          state.cursors.pop();
          list();
        } }, "← Previous"),
        h("button", { type: "button", class: "secondary", disabled: !pageInfo.hasNextPage, onClick: () => {
          state.cursors.push(pageInfo.endCursor);
          list();
        } }, "Next →"));
      replace(listResults, summary,
        edges.length ? table("Users", edges.map((e) => e.node)) : h("p", { class: "empty" }, "No users."), pager);
    } catch (error) {
      // A USER or MODERATOR gets FORBIDDEN here: users(…) is for admins.
      if (request === latestList) replace(listResults, inlineError("Could not list users:", error, list));
    } finally {
      if (request === latestList) listResults.setAttribute("aria-busy", "false");
    }
  }

  function table(caption, users) {
    return h("table", { class: "data" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, COLUMNS.map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, users.flatMap(rows)));
  }

  /** A user's row, and below it the (hidden until asked for) form that adjusts their balance. */
  function rows(user) {
    const choice = select({ "aria-label": `New role for ${user.name}` }, ROLES.map((r) => [r, r]), user.role);
    const apply = h("button", { type: "button", class: "secondary small", disabled: true,
      "aria-label": `Change the role of ${user.name}`,
      onClick: () => changeRole(user, choice.value, apply) }, "Change");
    choice.addEventListener("change", () => { apply.disabled = choice.value === user.role; });
    const editor = balanceEditor(user);
    const toggle = h("button", { type: "button", class: "secondary small", "aria-expanded": "false",
      "aria-label": `Adjust the balance of ${user.name}`, onClick: () => {
        const opening = editor.hidden;
        editor.hidden = !opening;
        toggle.setAttribute("aria-expanded", String(opening));
        if (opening) editor.querySelector("input").focus();
      } }, "Adjust…");
    const row = h("tr", { "data-user-id": user.id },
      h("th", { scope: "row", class: "name" }, user.name),
      // Null unless the viewer may see it (themself, or an admin).
      h("td", {}, user.email || hidden()),
      h("td", {}, h("span", { class: `badge role-${user.role.toLowerCase()}` }, user.role)),
      h("td", { class: "number balance" }, user.balance ?? hidden()),
      h("td", { class: "date" }, time(user.createdAt)),
      h("td", {}, h("code", { class: "id" }, user.id)),
      h("td", {}, h("div", { class: "row-actions" }, choice, apply, toggle)));
    return [row, editor];
  }

  function balanceEditor(user) {
    const amount = h("input", { type: "text", inputmode: "decimal", autocomplete: "off", class: "amount",
      "aria-label": `Amount for ${user.name}`, placeholder: "50.00 or -20.00" });
    const note = h("input", { type: "text", autocomplete: "off", class: "note",
      "aria-label": `Note for ${user.name}`, placeholder: "Why (shown in their ledger)" });
    const submit = h("button", { type: "submit", class: "primary small" }, "Adjust balance");
    // No client-side checks: the API judges the amount and the note, and its answer is shown.
    const form = h("form", { class: "adjust", "aria-label": `Adjust the balance of ${user.name}`,
      onSubmit: (event) => {
        event.preventDefault();
        adjustBalance(user, amount.value.trim(), note.value, submit);
      } },
    h("span", { class: "label" }, "Credit (positive) or debit (negative):"), amount, note, submit);
    const editor = h("tr", { class: "adjust-row", "data-adjusts": user.id },
      h("td", { colspan: String(COLUMNS.length) }, form));
    editor.hidden = true;
    return editor;
  }

  async function adjustBalance(user, amount, note, button) {
    const debit = amount.startsWith("-");
    const now = user.balance ? ` (${user.balance} now)` : "";
    const confirmed = await confirmAction({
      title: "Adjust this user's balance?",
      text: `${debit ? amount.slice(1) : amount} will be ${debit ? "debited from" : "credited to"} the balance of ` +
        `${user.name}${now}, with the note “${note.trim()}”. The change is recorded in their ledger.`,
      choices: [{ label: debit ? "Debit balance" : "Credit balance", value: true, danger: debit }],
    });
    if (!confirmed) return;
    button.disabled = true;
    try {
      const data = await context.call(ADJUST_BALANCE, { userId: user.id, amount, note });
      const adjusted = data.adjustBalance;
      context.notices.success(`The balance of ${adjusted.name} is now ${adjusted.balance}.`);
    } catch (error) {
      // FORBIDDEN for non-admins, BAD_USER_INPUT (with the field) for a bad amount or note,
      // CONFLICT for a debit past the balance. Nothing moved: the form keeps what was typed.
      context.notices.error(`Could not adjust the balance of ${user.name}:`, error);
      button.disabled = false;
      return;
    }
    await redraw();
  }

  async function changeRole(user, newRole, button) {
    const confirmed = await confirmAction({
      title: "Change this user's role?",
      text: `${user.name} (${user.email || user.id}) will be ${newRole} instead of ${user.role} from their next request.`,
      choices: [{ label: `Make ${newRole}`, value: true, danger: newRole === "ADMIN" }],
    });
    if (!confirmed) return;
    button.disabled = true;
    try {
      const data = await context.call(SET_USER_ROLE, { userId: user.id, role: newRole });
      context.notices.success(`${data.setUserRole.name} is now ${data.setUserRole.role}.`);
    } catch (error) {
      // FORBIDDEN for non-admins, and for an admin lowering their own role.
      context.notices.error(`Could not change the role of ${user.name}:`, error);
    }
    await redraw();
  }

  /** Draw again from the server: the lists show what the API now says. */
  async function redraw() {
    await list();
    if (foundResult.childElementCount) await find();
  }

  list();
  return h("section", { class: "view" },
    h("h1", {}, "Users"),
    h("h2", {}, "Find by id"), findForm, foundResult,
    h("h2", {}, "All users"), listForm, listResults);
}
