// The console's only way to the server: POST /graphql, the public API, with the viewer's token,
// exactly as any other client would call it. Every failure, whatever its kind, comes out as an
// ApiError holding a list of {code, message, …} so that the page can always show something.

const ENDPOINT = "/graphql";

export class ApiError extends Error {
  constructor(errors, status) {
    super(errors.map((e) => `${e.code}: ${e.message}`).join("; "));
    this.name = "ApiError";
    this.errors = errors;
    this.status = status; // HTTP status; 0 when the server could not be reached
  }

  has(code) {
    return this.errors.some((e) => e.code === code);
  }
}

/** Run one GraphQL operation; its `data`, or an ApiError. */
export async function graphql(query, variables, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const operationName = /^\s*(?:query|mutation)\s+(\w+)/.exec(query)?.[1];

  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables, operationName }),
      credentials: "omit", // the token is the only credential; no cookies are involved
    });
  } catch (error) {
    throw new ApiError([{
      code: "NETWORK_ERROR",
      message: `The API could not be reached (${error.message}). Check the connection and try again.`,
    }], 0);
  }

  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): reported below by its HTTP status.
  }
  const errors = body && Array.isArray(body.errors) ? body.errors : [];
  if (!body || typeof body !== "object" || (!("data" in body) && errors.length === 0)) {
    throw new ApiError([{
      code: `HTTP_${response.status}`,
      message: `The API answered HTTP ${response.status} ${response.statusText} without a GraphQL response.`,
    }], response.status);
  }
  if (errors.length) {
    // 429 and 503 say when to come back; RATE_LIMITED errors also carry it in extensions.
    const header = Number(response.headers.get("Retry-After"));
    throw new ApiError(errors.map((e) => normalise(e, Number.isFinite(header) && header > 0 ? header : null)),
      response.status);
  }
  return body.data;
}

function normalise(error, retryAfter) {
  const extensions = (error && error.extensions) || {};
  const fields = extensions.fields && typeof extensions.fields === "object" ? extensions.fields : null;
  return {
    code: String(extensions.code || "UNKNOWN_ERROR"),
    message: String((error && error.message) || "The API reported an error without a message."),
    fields,
    retryAfter: Number(extensions.retryAfter) || retryAfter,
    path: Array.isArray(error && error.path) ? error.path.join(".") : null,
  };
}
