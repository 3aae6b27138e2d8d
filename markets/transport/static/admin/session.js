// The signed-in viewer. The token lives in sessionStorage: it lasts as long as this tab, is not
// shared with other tabs and goes when the tab closes, so a forgotten console does not stay
// signed in on a shared machine. The server checks the role on every request anyway; the copy
// kept here only labels the page.

const KEY = "markets.admin.session";

export function load() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(KEY) || "null");
    const valid = stored && typeof stored.token === "string" && stored.user && typeof stored.user.role === "string";
    return valid ? stored : null;
  } catch {
    return null; // storage disabled or corrupt: start signed out
  }
}

export function save(session) {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // Storage disabled (private mode): the session lasts until reload, which is still usable.
  }
}

export function clear() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored, nothing to clear
  }
}
