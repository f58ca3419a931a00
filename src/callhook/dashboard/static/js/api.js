// The HTTP API as the signed-in browser calls it: the session cookie goes by itself,
// the CSRF value in the X-Callhook-CSRF header (or the `csrf` query parameter where a
// header cannot be sent: EventSource, download links). Errors become ApiError.

let csrf = "";

export function setCsrf(value) {
  csrf = value || "";
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

function detailText(body, status) {
  if (!body || body.detail === undefined) return `HTTP ${status}`;
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  return JSON.stringify(body.detail);
}

export function url(path, query = {}, withCsrf = false) {
  const u = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, String(v));
  }
  if (withCsrf) u.searchParams.set("csrf", csrf);
  return u.pathname + u.search;
}

export async function api(path, { method = "GET", query = {}, body } = {}) {
  const headers = { Accept: "application/json", "X-Callhook-CSRF": csrf };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(url(path, query), {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (res.status !== 204) data = await res.json().catch(() => null);
  if (res.status === 401) document.dispatchEvent(new CustomEvent("callhook:signedout"));
  if (!res.ok) throw new ApiError(res.status, detailText(data, res.status));
  return data;
}

export async function session() {
  const res = await fetch("/dashboard/api/session", { credentials: "same-origin", cache: "no-store" });
  return res.json();
}

export async function signIn(token, name) {
  const res = await fetch("/dashboard/api/signin", {
    method: "POST", credentials: "same-origin", cache: "no-store",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ token, name }),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, detailText(data, res.status));
  return data;
}

export async function signOut() {
  await fetch("/dashboard/api/signout", {
    method: "POST", credentials: "same-origin", headers: { "X-Callhook-CSRF": csrf },
  }).catch(() => null);
  csrf = "";
}
