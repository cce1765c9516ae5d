// The sample app (examples/spa) in a real browser: Debian's Chromium driven by
// playwright-core. Two users in two browser contexts; one moves a card, the other sees
// it arrive live. Checks that the refresh cookie is out of scripts' reach, that a page
// of another origin cannot use it, and that signing out ends the session; saves a
// screenshot of the board. Prints one JSON line per check; exits non-zero on failure.
import http from 'node:http';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const app = env('CRUST_APP_URL'); // http://localhost:PORT
const [owner, bob] = [env('CRUST_OWNER_EMAIL'), env('CRUST_BOB_EMAIL')];
const password = env('CRUST_PASSWORD');
const project = env('CRUST_PROJECT_NAME');
const card = env('CRUST_CARD_TITLE');
const screenshot = env('CRUST_SCREENSHOT');

let failed = false;
const check = (name, ok, detail = '') => {
  console.log(JSON.stringify({ check: name, ok, detail }));
  if (!ok) failed = true;
};

const browser = await chromium.launch({
  executablePath: process.env.CRUST_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox'],
});
try {
  async function signedIn(email) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error(`page error (${email}): ${e.message}`));
    await page.goto(app);
    await page.getByTestId('email').fill(email);
    await page.getByTestId('password').fill(password);
    const login = page.waitForResponse((r) => r.url().endsWith('/auth/login'));
    await page.getByTestId('sign-in').click();
    // The test keeps the CSRF token to replay requests; the app keeps it in memory.
    const { csrfToken } = await (await login).json();
    await page.getByTestId(`project-${project}`).click();
    await page.getByTestId('live').waitFor();
    return { context, page, csrfToken };
  }
  const a = await signedIn(owner);
  const b = await signedIn(bob);
  check('both users see the board', true);

  // The refresh cookie exists, but no script can read it.
  const cookies = await a.context.cookies();
  const refresh = cookies.find((c) => c.name === 'crust_refresh');
  // Its attributes only: a token has no business in a test's output.
  const shown = (c) => (c ? JSON.stringify({ httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite, path: c.path, empty: c.value === '' }) : 'none');
  check(
    'the refresh cookie is HttpOnly, Secure, SameSite=Strict, Path=/auth',
    !!refresh && refresh.httpOnly && refresh.secure && refresh.sameSite === 'Strict' && refresh.path === '/auth',
    shown(refresh),
  );
  const visible = await a.page.evaluate(() => document.cookie);
  check('document.cookie does not show it', !visible.includes('crust_refresh'), visible);
  const stored = await a.page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  check('nothing is kept in web storage', stored === '{}{}', stored);

  // A moves the card; B sees it arrive in the other column, without reloading.
  const inDone = (page) => page.locator(`[data-testid="column-Done"] [data-testid="card-${card}"]`);
  check('the card starts outside Done', (await inDone(b.page).count()) === 0);
  const doneId = await a.page
    .getByTestId(`move-${card}`)
    .locator('option', { hasText: 'Done' })
    .getAttribute('value');
  await a.page.getByTestId(`move-${card}`).selectOption(doneId);
  await inDone(a.page).waitFor({ timeout: 10000 });
  try {
    await inDone(b.page).waitFor({ timeout: 10000 });
    check("the other user sees the move live", true);
  } catch (e) {
    check("the other user sees the move live", false, e.message);
  }
  await b.page.screenshot({ path: screenshot });

  // A page of another origin (and site) cannot call the API with the cookie.
  const evil = http.createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>another site</title><p>hello</p>');
  });
  await new Promise((ok) => evil.listen(0, '127.0.0.1', ok));
  const evilUrl = `http://127.0.0.1:${evil.address().port}/`;
  const attack = await a.context.newPage();
  await attack.goto(evilUrl);
  const before = (await a.context.cookies()).find((c) => c.name === 'crust_refresh');
  const outcome = await attack.evaluate(async (api) => {
    const tries = {};
    // Requests that need a CORS preflight: the browser may not send them.
    for (const path of ['/auth/refresh', '/graphql']) {
      try {
        const res = await fetch(api + path, {
          method: 'POST',
          credentials: 'include',
          headers: { 'content-type': 'application/json' },
          body: path === '/graphql' ? '{"query":"{ me { email } }"}' : '{}',
        });
        tries[`read ${path}`] = `answered ${res.status}: ${await res.text()}`;
      } catch (e) {
        tries[`read ${path}`] = `blocked: ${e.message}`;
      }
    }
    // "Simple" requests go out unasked (the answer unreadable): the server must refuse
    // them on its own (SameSite=Strict, JSON only, the CSRF header). Checked below.
    for (const path of ['/auth/refresh', '/auth/logout']) {
      await fetch(api + path, { method: 'POST', mode: 'no-cors', credentials: 'include', body: '{}' }).catch(() => {});
    }
    // A live connection from this page: refused at the upgrade (Origin).
    tries['open /graphql/ws'] = await new Promise((done) => {
      const ws = new WebSocket(api.replace('http', 'ws') + '/graphql/ws', 'graphql-transport-ws');
      ws.onopen = () => done('opened');
      ws.onerror = () => done('blocked: refused');
    });
    return tries;
  }, app);
  for (const [what, result] of Object.entries(outcome)) {
    check(`another site cannot ${what}`, result.startsWith('blocked'), result);
  }
  // The simple requests changed nothing: the cookie is as it was, and it still
  // refreshes (had they rotated it, this would be a reuse, and the session would end).
  const afterAttack = (await a.context.cookies()).find((c) => c.name === 'crust_refresh');
  check(
    "the other site's requests left the cookie as it was",
    !!before && !!afterAttack && before.value === afterAttack.value,
    shown(afterAttack),
  );
  const still = await a.page.evaluate(async (csrf) => {
    const res = await fetch('/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: '{}',
    });
    return res.status;
  }, a.csrfToken);
  check('the session survived the other site', still === 200, `refresh answered ${still}`);
  evil.close();

  // Signing out ends the session on the server, not only in the browser: the cookie
  // as it was, put back, no longer refreshes.
  const kept = (await a.context.cookies()).find((c) => c.name === 'crust_refresh');
  await a.page.getByTestId('sign-out').click();
  await a.page.getByTestId('sign-in').waitFor();
  const after = (await a.context.cookies()).find((c) => c.name === 'crust_refresh');
  check('signing out clears the refresh cookie', !after || after.value === '', shown(after));
  await a.context.addCookies([kept]);
  const replayed = await a.page.evaluate(async (csrf) => {
    const res = await fetch('/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: '{}',
    });
    return `${res.status} ${await res.text()}`;
  }, a.csrfToken);
  check('the old cookie is refused after signing out', replayed.startsWith('401'), replayed);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
