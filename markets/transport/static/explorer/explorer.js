// Starts GraphiQL from this server's own copies of React and GraphiQL (graph/static/graphiql/,
// see scripts/vendor_graphiql.sh): nothing on this page comes from another host, so the
// explorer works on a network without internet. A classic script, not a module: the vendored
// builds are UMD bundles that define the globals React, ReactDOM, GraphiQL, GraphiQLPluginExplorer.
(function () {
  "use strict";

  var root = document.getElementById("graphiql");
  if (!window.GraphiQL || !window.React || !window.ReactDOM) {
    // A script was refused (integrity mismatch, blocked, missing): say so rather than show nothing.
    root.textContent = "GraphiQL's scripts did not load; the API itself still answers POST /graphql.";
    return;
  }

  // The endpoint is this page's own URL: GET with Accept: text/html gives the page, POST runs queries.
  var endpoint = window.location.origin + window.location.pathname;
  var fetcher = GraphiQL.createFetcher({
    url: endpoint,
    // Subscriptions go over WebSocket (graphql-transport-ws); GraphiQL sends the header editor's
    // headers as the connection_init payload, which is where the server looks for the token.
    subscriptionUrl: endpoint.replace(/^http/, "ws"),
  });

  // The first page a visitor sees: a read anyone may run, then the price of a purchase (quote,
  // anyone) and the purchase itself (openPosition, with a token). Ctrl-Enter runs the operation
  // under the cursor, so each one can be tried on its own.
  var EXAMPLE = [
    "# markets GraphQL explorer",
    "# Ctrl-Enter runs the operation under the cursor; Ctrl-Space completes.",
    "#",
    "# To act as a user, get a token with",
    '#   mutation { login(email: "…", password: "…") { token } }',
    "# and put it in the Headers tab below:",
    '#   {"Authorization": "Bearer <token>"}',
    "",
    "query Markets {",
    "  markets(first: 3) {",
    "    edges { node { id name status volume probability } }",
    "  }",
    "}",
    "",
    "# What 10.00 on YES would buy right now: nothing is bought, no token needed.",
    "# Put one of the ids above in marketId.",
    "query Quote {",
    '  quote(marketId: "TWFya2V0OjE", outcome: YES, amount: "10.00") {',
    "    shares probabilityBefore probabilityAfter",
    "  }",
    "}",
    "",
    "# The purchase itself (needs the token): your balance pays the amount. Put the quote's",
    "# shares in minShares: if the price moved and fewer would come, nothing is bought.",
    "mutation Buy {",
    "  openPosition(input: {",
    '    marketId: "TWFya2V0OjE", outcome: YES, amount: "10.00", minShares: "10.00"',
    "  }) {",
    "    id shares market { probability } user { balance }",
    "  }",
    "}",
    "",
  ].join("\n");

  // GraphiQL keeps its tabs and history in localStorage, and the history keeps each query's
  // headers even with shouldPersistHeaders off: a token would outlive the tab there. This is
  // GraphiQL's own localStorage wrapper, except that every "headers" it writes becomes null.
  function withoutHeaders(value) {
    try {
      var parsed = JSON.parse(value);
      if (parsed === null || typeof parsed !== "object") return value;
      return JSON.stringify(parsed, function (key, inner) { return key === "headers" ? null : inner; });
    } catch (notJson) {
      return value; // plain strings (the query text) are stored as they are
    }
  }
  function ownKeys() {
    return Object.keys(localStorage).filter(function (key) { return key.indexOf("graphiql:") === 0; });
  }
  var storage = {
    getItem: function (key) { return localStorage.getItem(key); },
    setItem: function (key, value) { localStorage.setItem(key, withoutHeaders(value)); },
    removeItem: function (key) { localStorage.removeItem(key); },
    clear: function () { ownKeys().forEach(function (key) { localStorage.removeItem(key); }); },
    get length() { return ownKeys().length; },
  };

  var plugins = window.GraphiQLPluginExplorer ? [GraphiQLPluginExplorer.explorerPlugin()] : [];

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      storage: storage,
      plugins: plugins,
      defaultQuery: EXAMPLE,
      // Open the headers tab: sending a token is the first thing most viewers need.
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      // Headers (and so tokens) are not written to localStorage: they last as long as the page.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    })
  );
})();
