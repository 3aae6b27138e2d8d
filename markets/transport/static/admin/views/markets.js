// Markets: filter (status, name), sort, page through with cursors, and change them: close,
// cancel, resolve YES/NO, delete. Every change asks first and then reloads the page from the
// API, so what is shown is what the server has, not what the console hoped for.

import { field, h, replace, select, time } from "../dom.js";
import {
  DELETE_MARKET, MARKET_STATUSES, MARKETS, RESOLVE_MARKET, SET_MARKET_STATUS,
} from "../operations.js";
import { confirmAction, inlineError } from "../ui.js";

const ORDERS = [
  ["CREATED_AT:DESC", "Newest first"],
  ["CREATED_AT:ASC", "Oldest first"],
  ["NAME:ASC", "Name A–Z"],
  ["VOLUME:DESC", "Largest volume"],
  ["END_DATE:ASC", "Ending soonest"],
];
const PAGE_SIZES = [10, 20, 50];

// What each action sends, and how it is described before and after. `choices` are the dialog's
// buttons; the one clicked gives the variables sent with the market's id.
const ACTIONS = {
  close: {
    label: "Close", verb: "close", when: ["ACTIVE"], query: SET_MARKET_STATUS,
    confirm: (m) => ({ title: "Close this market?",
      text: `“${m.name}” will take no new positions. It can still be resolved or cancelled.`,
      choices: [{ label: "Close market", value: { status: "CLOSED" } }] }),
    done: (m) => `Closed “${m.name}”.`,
  },
  cancel: {
    label: "Cancel", verb: "cancel", when: ["ACTIVE", "CLOSED"], query: SET_MARKET_STATUS,
    confirm: (m) => ({ title: "Cancel this market?",
      text: `“${m.name}” will be cancelled and can no longer be resolved.`,
      choices: [{ label: "Cancel market", value: { status: "CANCELLED" }, danger: true }] }),
    done: (m) => `Cancelled “${m.name}”.`,
  },
  resolve: {
    label: "Resolve…", verb: "resolve", when: ["ACTIVE", "CLOSED"], query: RESOLVE_MARKET,
    confirm: (m) => ({ title: "Resolve this market?",
      text: `Which outcome did “${m.name}” have? Resolving is final.`,
      choices: [{ label: "Resolve YES", value: { outcome: "YES" } }, { label: "Resolve NO", value: { outcome: "NO" } }] }),
    done: (m, sent) => `Resolved “${m.name}” as ${sent.outcome}.`,
  },
  delete: {
    label: "Delete", verb: "delete", when: MARKET_STATUSES, query: DELETE_MARKET, danger: true,
    confirm: (m) => ({ title: "Delete this market?",
      text: `“${m.name}” and all its positions will be deleted. This cannot be undone.`,
      choices: [{ label: "Delete market", value: {}, danger: true }] }),
    done: (m) => `Deleted “${m.name}”.`,
  },
};

/** The market maker's probability of YES (a Float strictly inside 0..1) as a percentage, "62.5%". */
function percent(probability) {
  return typeof probability === "number" ? `${(probability * 100).toFixed(1)}%` : "—";
}

export function marketsView(context) {
  const state = {
    nameContains: "", status: "", order: ORDERS[0][0], size: PAGE_SIZES[0],
    page: {}, // {} for the first page, {after} going forward, {before} going back
    number: 1,
  };
  const results = h("div", { class: "results", "aria-live": "polite" });

  const name = h("input", { id: "market-name", type: "search", placeholder: "Part of the name" });
  const status = select({ id: "market-status" },
    [["", "Any status"], ...MARKET_STATUSES.map((s) => [s, s])], state.status);
  const order = select({ id: "market-order" }, ORDERS, state.order);
  const size = select({ id: "market-size" }, PAGE_SIZES.map((n) => [String(n), String(n)]), String(state.size));

  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter markets", onSubmit: (event) => {
    event.preventDefault();
    Object.assign(state, {
      nameContains: name.value.trim(), status: status.value, order: order.value, size: Number(size.value),
      page: {}, number: 1, // a new filter or ordering starts again: cursors belong to one of each
    });
    load();
  } },
  field("Name contains", name), field("Status", status), field("Sort", order), field("Per page", size),
  h("div", { class: "filter-actions" },
    h("button", { type: "submit", class: "primary" }, "Apply filters"),
    h("button", { type: "button", class: "secondary", onClick: () => {
      form.reset();
      form.requestSubmit();
    } }, "Clear")));

  function variables() {
    const [field_, direction] = state.order.split(":");
    const filter = {};
    if (state.nameContains) filter.nameContains = state.nameContains;
    if (state.status) filter.status = state.status;
    const page = state.page.before
      ? { last: state.size, before: state.page.before }
      : { first: state.size, after: state.page.after }; // undefined keys are left out of the JSON
    return { filter, orderBy: { field: field_, direction }, ...page };
  }

  let latest = 0; // answers can arrive out of order: only the newest request may draw

  async function load() {
    const request = ++latest;
    results.setAttribute("aria-busy", "true");
    try {
      const data = await context.call(MARKETS, variables());
      if (request === latest) draw(data.markets);
    } catch (error) {
      if (request === latest) replace(results, inlineError("Could not load markets:", error, load));
    } finally {
      if (request === latest) results.setAttribute("aria-busy", "false");
    }
  }

  function draw(connection) {
    const { edges, pageInfo, totalCount } = connection;
    const summary = h("p", { class: "summary" },
      `${totalCount} ${totalCount === 1 ? "market" : "markets"}`,
      totalCount ? ` · page ${state.number}` : "");
    if (!edges.length) {
      replace(results, summary, h("p", { class: "empty" }, "No market matches these filters."), pager(pageInfo));
      return;
    }
    const table = h("table", { class: "data" },
      h("caption", { class: "visually-hidden" }, "Markets"),
      h("thead", {}, h("tr", {}, ["Name", "Status", "Volume", "Chance of YES", "Ends", "Creator", "Created", "Actions"]
        .map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, edges.map(({ node }) => row(node))));
    replace(results, summary, table, pager(pageInfo));
  }

  function row(market) {
    const actions = Object.entries(ACTIONS)
      .filter(([, action]) => action.when.includes(market.status))
      .map(([key, action]) => h("button", {
        type: "button", class: action.danger ? "danger small" : "secondary small",
        "aria-label": `${action.verb[0].toUpperCase()}${action.verb.slice(1)} “${market.name}”`, "data-action": key,
        onClick: (event) => act(action, market, event.currentTarget),
      }, action.label));
    const outcome = market.resolvedOutcome ? ` (${market.resolvedOutcome})` : "";
    return h("tr", { "data-market-id": market.id },
      h("th", { scope: "row", class: "name" }, market.name),
      h("td", {}, h("span", { class: `badge status-${market.status.toLowerCase()}` }, market.status + outcome)),
      h("td", { class: "number" }, market.volume),
      h("td", { class: "number probability", title: String(market.probability) }, percent(market.probability)),
      h("td", { class: "date" }, time(market.endDate)),
      h("td", {}, market.creator.name),
      h("td", { class: "date" }, time(market.createdAt)),
      h("td", {}, h("div", { class: "row-actions" }, actions)));
  }

  async function act(action, market, button) {
    const chosen = await confirmAction(action.confirm(market));
    if (chosen === null) return;
    button.disabled = true;
    try {
      await context.call(action.query, { id: market.id, ...chosen });
      context.notices.success(action.done(market, chosen));
    } catch (error) {
      // FORBIDDEN for a USER, CONFLICT for a market already resolved elsewhere, RATE_LIMITED…
      context.notices.error(`Could not ${action.verb} “${market.name}”:`, error);
    }
    await load(); // the server's state either way: someone else may have changed it meanwhile
  }

  function pager(pageInfo) {
    const previous = h("button", { type: "button", class: "secondary", disabled: !pageInfo.hasPreviousPage,
      onClick: () => {
        state.page = { before: pageInfo.startCursor };
        state.number = Math.max(1, state.number - 1);
        load();
      } }, "← Previous");
    const next = h("button", { type: "button", class: "secondary", disabled: !pageInfo.hasNextPage,
      onClick: () => {
        state.page = { after: pageInfo.endCursor };
        state.number += 1;
        load();
      } }, "Next →");
    return h("nav", { class: "pager", "aria-label": "Market pages" }, previous, next);
  }

  load();
  return h("section", { class: "view" },
    h("h1", {}, "Markets"),
    form,
    results);
}
