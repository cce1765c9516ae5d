// Signing in the way the server wants a browser to: the refresh token lives only in an
// HttpOnly cookie (Path=/auth) that no script can read; the access token and the CSRF
// token live in memory only, never in localStorage or sessionStorage.
let session = null; // { accessToken, csrfToken, user }
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
  set({ accessToken: s.accessToken, csrfToken: s.csrfToken, user: s.user });
}

/** A new access token from the refresh cookie (the CSRF token proves it is us). */
export async function refresh() {
  if (!session) throw new Error('not signed in');
  const s = await post('/auth/refresh', {}, { 'x-csrf-token': session.csrfToken });
  set({ accessToken: s.accessToken, csrfToken: s.csrfToken, user: s.user });
  return s.accessToken;
}

export async function signOut() {
  if (session) {
    await post('/auth/logout', {}, { 'x-csrf-token': session.csrfToken }).catch(() => {});
  }
  set(null);
}
