// Sign in with the API's login mutation; the token it returns is what every later call sends.

import { h } from "../dom.js";
import { LOGIN } from "../operations.js";

export function signInView(context) {
  const email = h("input", { id: "email", name: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password", required: true,
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");

  async function onSubmit(event) {
    event.preventDefault();
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      const data = await context.call(LOGIN, { email: email.value, password: password.value });
      context.signedIn(data.login.token, data.login.user);
    } catch (error) {
      // UNAUTHENTICATED (wrong email or password), RATE_LIMITED, BAD_USER_INPUT, NETWORK_ERROR…
      context.notices.error("Could not sign in:", error);
      submit.disabled = false;
      submit.textContent = "Sign in";
      password.select();
    }
  }

  return h("section", { class: "card signin" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Staff of the markets platform. What you can do is what your role allows in the API."),
    h("form", { onSubmit, "aria-describedby": "signin-help" },
      h("label", { for: "email" }, "Email"), email,
      h("label", { for: "password" }, "Password"), password,
      h("div", { class: "actions" }, submit)),
    h("p", { id: "signin-help", class: "muted small" },
      "Your token is kept in this tab only (sessionStorage) and is forgotten when the tab closes."));
}
