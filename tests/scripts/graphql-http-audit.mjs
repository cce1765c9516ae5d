// Runs the graphql-http package's server audit (the GraphQL-over-HTTP spec's MUST,
// SHOULD and MAY checks) against CRUST_URL, signed in with CRUST_TOKEN (anonymous
// callers may not introspect, and several audits ask for `__type`). Prints one JSON
// object per audit: {id, name, status, reason}.
import { serverAudits } from 'graphql-http';

const url = process.env.CRUST_URL;
const token = process.env.CRUST_TOKEN;
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  let reason = result.reason;
  if (result.status !== 'ok' && result.response) {
    const body = await result.response.text().catch(() => '');
    reason = `${reason} (HTTP ${result.response.status}: ${body.slice(0, 300)})`;
  }
  console.log(JSON.stringify({ id: audit.id, name: audit.name, status: result.status, reason }));
}
