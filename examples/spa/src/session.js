// Signing in the way the server wants a browser to: the refresh token lives only in an
// HttpOnly cookie (Path=/auth) that no script can read; the access token and the CSRF
// token live in memory only, never in localStorage or sessionStorage.
let session = null; // { accessToken, expiresAt (ms), csrfToken, user }
let refreshing = null; // the one refresh in flight, shared by every caller
const listeners = new Set();

export function current() {
  return session;
}

export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function set(next) {
  session = next;
  for (const l of listeners) l(session);
}

async function post(path, body, headers = {}) {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body ?? {}),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error(json.errors?.[0]?.message ?? `HTTP ${res.status}`);
  }
  return json;
}

export async function signIn(email, password) {
  const s = await post('/auth/login', { email, password });
  set(fromServer(s));
}

function fromServer(s) {
  return {
    accessToken: s.accessToken,
    expiresAt: Date.parse(s.expiresAt),
    csrfToken: s.csrfToken,
    user: s.user,
  };
}

/**
 * A new access token from the refresh cookie (the CSRF token proves it is us). One
 * refresh at a time: a refresh token is single-use, and the server takes a second use
 * of it for theft (it ends the session and warns the user by email).
 */
export function refresh() {
  if (!session) return Promise.reject(new Error('not signed in'));
  refreshing ??= post('/auth/refresh', {}, { 'x-csrf-token': session.csrfToken })
    .then((s) => {
      set(fromServer(s));
      return s.accessToken;
    })
    .catch((e) => {
      set(null); // the session is over: sign in again
      throw e;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** An access token good for at least another 30 s. */
export async function freshToken() {
  if (!session) return null;
  if (session.expiresAt - Date.now() < 30_000) await refresh();
  return session?.accessToken ?? null;
}

/** Ends the session on the server; throws (and stays signed in) if it could not. */
export async function signOut() {
  if (session) {
    await post('/auth/logout', {}, { 'x-csrf-token': session.csrfToken });
  }
  set(null);
}
