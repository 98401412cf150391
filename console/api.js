// The public API, /api/v1/*, with the tenant token kept in session storage (never in the URL).

const TOKEN_KEY = "okta-ingest.token";

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  save: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
  /** Called when the API refuses the session's token (revoked or expired); app.js signs out. */
  onRefused: () => {},
};

/** A problem+json answer: `code`, `detail` and any extra members (`line`, `checks`, …). */
export class Problem extends Error {
  constructor(status, body) {
    super(body?.detail || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || "http_error";
    this.body = body || {};
  }
}

/** One call; resolves to the JSON body (null for 204), rejects with a Problem. */
export async function api(method, path, body, token = session.token()) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = await response.text();
  // A proxy's error page is not ours: the problem is then its HTTP status.
  const isJson = /json/.test(response.headers.get("Content-Type") || "");
  const json = text && (response.ok || isJson) ? JSON.parse(text) : null;
  // The pages catch their problems (a poll retries quietly), so a refused session is seen here.
  if (response.status === 401 && token === session.token()) session.onRefused();
  if (!response.ok) throw new Problem(response.status, json);
  return json;
}

/** `admin` or `viewer`: only an admin may list tokens. */
export async function roleOf(token) {
  try {
    await api("GET", "/tokens", undefined, token);
    return "admin";
  } catch (problem) {
    if (problem.status === 403) return "viewer";
    throw problem;
  }
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
