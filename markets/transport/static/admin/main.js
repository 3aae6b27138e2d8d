// The admin console: sign-in, then two sections (#/markets, #/users) chosen by the URL's
// fragment, so that reload and the back button keep the place without any server routes.
// Whatever goes wrong is shown in the notice area; the page is never left blank.

import { ApiError, graphql } from "./api.js";
import { h, replace } from "./dom.js";
import { ME } from "./operations.js";
import * as session from "./session.js";
import { Notices } from "./ui.js";
import { marketsView } from "./views/markets.js";
import { signInView } from "./views/signin.js";
import { usersView } from "./views/users.js";

const SECTIONS = {
  "#/markets": { label: "Markets", view: marketsView },
  "#/users": { label: "Users", view: usersView },
};
const DEFAULT_SECTION = "#/markets";

const notices = new Notices();
const main = h("main", { id: "main", tabindex: "-1" });
const header = h("header", { class: "topbar" });
let viewer = session.load();

/** What the views get: the API with the viewer's token, the notices, and sign-out. */
const context = {
  notices,
  get viewer() {
    return viewer && viewer.user;
  },
  async call(query, variables) {
    try {
      return await graphql(query, variables, viewer && viewer.token);
    } catch (error) {
      // 401: the token is invalid, expired, or its user is gone. Nothing will work with it.
      if (error instanceof ApiError && error.status === 401) {
        signOut("The API refused this session's token; sign in again.", error);
      }
      throw error;
    }
  },
  signedIn(token, user) {
    viewer = { token, user };
    session.save(viewer);
    notices.clear();
    notices.success(`Signed in as ${user.name} (${user.role}).`);
    if (user.role === "USER") {
      notices.info("Your role is USER: the API refuses the market actions (moderators and admins) and " +
        "the user list (admins), and the console shows its answer.");
    }
    // Straight to the section (no hashchange, which would clear the notices just shown).
    if (!(location.hash in SECTIONS)) history.replaceState(null, "", DEFAULT_SECTION);
    render();
  },
};

function signOut(reason, error) {
  viewer = null;
  session.clear();
  notices.clear();
  if (error) notices.error(reason, error);
  else if (reason) notices.info(reason);
  render();
}

function renderHeader() {
  const current = location.hash in SECTIONS ? location.hash : DEFAULT_SECTION;
  const brand = h("a", { class: "brand", href: DEFAULT_SECTION }, "markets", h("span", {}, "admin"));
  if (!viewer) {
    replace(header, brand);
    return;
  }
  const nav = h("nav", { "aria-label": "Sections" }, Object.entries(SECTIONS).map(([hash, { label }]) =>
    h("a", { href: hash, "aria-current": hash === current ? "page" : false }, label)));
  const user = viewer.user;
  replace(header, brand, nav, h("div", { class: "viewer" },
    h("span", {}, "Signed in as ", h("strong", {}, user.name), " "),
    h("span", { class: `badge role-${user.role.toLowerCase()}`, title: "Your role" }, user.role),
    h("button", { type: "button", class: "secondary small", onClick: () => signOut("Signed out.") }, "Sign out")));
}

function render() {
  renderHeader();
  try {
    if (!viewer) {
      replace(main, signInView(context));
    } else {
      const section = SECTIONS[location.hash] || SECTIONS[DEFAULT_SECTION];
      document.title = `${section.label} · markets admin`;
      replace(main, section.view(context));
    }
  } catch (error) {
    // A bug in a view: say so where the view would have been.
    replace(main, h("h1", {}, "Something went wrong"),
      h("p", {}, "The console hit an error while drawing this page. Reload to try again."));
    notices.error("The console could not draw this page:", error);
  }
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

/** A stored token from earlier in this tab: check it still works before trusting it. */
async function resume() {
  try {
    const data = await graphql(ME, {}, viewer.token);
    if (!data.me) throw new ApiError([{ code: "UNAUTHENTICATED", message: "The token names no user." }], 401);
    viewer = { token: viewer.token, user: data.me };
    session.save(viewer);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut("Your session has ended; sign in again.");
      return;
    }
    // Network trouble or the like: keep the session, the views will show their own errors.
    notices.error("Could not check your session:", error);
  }
  render();
}

function start() {
  const app = document.getElementById("app");
  replace(app, header, notices.element, main);
  // Last resort: anything thrown outside the handlers above still reaches the screen.
  window.addEventListener("error", (event) => notices.error("Unexpected error in the console:", event.error || event.message));
  window.addEventListener("unhandledrejection", (event) => notices.error("Unexpected error in the console:", event.reason));
  window.addEventListener("hashchange", () => {
    notices.clearSuccesses(); // news about the section left behind; errors stay until dismissed
    render();
  });
  if (viewer) {
    replace(main, h("p", { class: "boot" }, "Checking your session…")); // until `me` answers
    resume();
  } else {
    render();
  }
}

start();
