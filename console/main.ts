// The console's entry: sign-in (an API key, or a one-time link #link=<token>), then hash routing
// between the pages. Each page renders into <main> and returns what undoes it (maps removed,
// requests aborted, blob: URLs revoked) when the route changes.
import './style.css';
import { ApiError, postJson, session, whenUnauthorized } from './api.js';
import { clear, errorText, h, status } from './dom.js';
import { dayPage } from './pages/day.js';
import { importPage } from './pages/import.js';
import { mailPage } from './pages/mail.js';
import { mapPage } from './pages/map.js';
import { photosPage } from './pages/photos.js';
import { searchPage } from './pages/search.js';
import { statsPage } from './pages/stats.js';

export type Cleanup = () => void;
export type Page = (main: HTMLElement, args: string[], signal: AbortSignal) => Promise<Cleanup | void> | Cleanup | void;

const PAGES: Record<string, { title: string; page: Page }> = {
  map: { title: 'Map', page: mapPage },
  day: { title: 'Day', page: dayPage },
  search: { title: 'Search', page: searchPage },
  photos: { title: 'Photos', page: photosPage },
  mail: { title: 'Mail', page: mailPage },
  import: { title: 'Import', page: importPage },
  stats: { title: 'Statistics', page: statsPage },
};

const main = document.getElementById('main')!;
const header = document.getElementById('top')!;
let leave: { cleanup: Cleanup | void; abort: AbortController } | null = null;

function unmount() {
  if (!leave) return;
  leave.abort.abort();
  try {
    leave.cleanup?.();
  } catch {}
  leave = null;
}

/** What the tests (and the curious) can reach: the current map, the route. */
declare global {
  interface Window {
    __lake: Record<string, unknown>;
  }
}
window.__lake = {};

async function route() {
  unmount();
  clear(main);
  if (!session.key) return signIn();
  header.hidden = false;
  document.getElementById('who')!.textContent = session.user ?? '';
  const [name = 'map', ...args] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const entry = PAGES[name] ?? PAGES.map!;
  document.title = `${entry.title} · Lake`;
  for (const link of header.querySelectorAll('nav a')) {
    if (link.getAttribute('href') === `#/${name in PAGES ? name : 'map'}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  main.dataset.page = name in PAGES ? name : 'map';
  const abort = new AbortController();
  leave = { cleanup: undefined, abort };
  try {
    const cleanup = await entry.page(main, args, abort.signal);
    if (leave?.abort === abort) leave.cleanup = cleanup;
    else cleanup?.();
    // After a link of the navigation, the keyboard goes on from the new page, not the menu.
    if (!abort.signal.aborted && (document.activeElement === document.body || header.contains(document.activeElement))) main.focus({ preventScroll: true });
  } catch (error) {
    if (abort.signal.aborted) return;
    main.append(h('p.error', { role: 'alert' }, errorText(error)));
  }
}

function signIn(message = '') {
  header.hidden = true;
  document.title = 'Sign in · Lake';
  main.dataset.page = 'sign-in';
  const input = h('input#key', { type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false', placeholder: 'lake_…', 'aria-describedby': 'key-help' });
  const note = status(message);
  const form = h(
    'form.sign-in',
    {},
    h('h1', {}, 'Datapunk Lake'),
    h('label', { for: 'key' }, 'API key'),
    input,
    h('p.help#key-help', {}, 'Made with ', h('code', {}, 'lake keys create --user NAME'), ', or open a sign-in link from ', h('code', {}, 'lake console-link'), '. The key is kept in this tab only.'),
    h('button', { type: 'submit' }, 'Sign in'),
    note,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    note.textContent = 'Checking the key…';
    try {
      await fetchCheck(key);
      session.set(key, null);
      if (!location.hash || location.hash === '#' || location.hash.startsWith('#link=')) location.hash = '#/map';
      else void route();
    } catch (error) {
      note.textContent = error instanceof ApiError && error.status === 401 ? 'That key was refused: it is wrong or revoked.' : errorText(error);
      input.focus();
    }
  });
  main.append(form);
  input.focus();
}

/** A cheap authenticated call: does the key work? */
async function fetchCheck(key: string) {
  const response = await fetch('/v1/timeline?limit=1', { headers: { authorization: `Bearer ${key}` } });
  if (!response.ok) {
    let message = `${response.status}`;
    try {
      message = ((await response.json()) as { error: { message: string } }).error.message;
    } catch {}
    throw new ApiError(response.status, 'CHECK', message);
  }
}

/** #link=<token>: exchanged once for a key (POST /v1/auth/link, no Authorization), then removed from the address. */
async function signInWithLink(token: string) {
  history.replaceState(null, '', `${location.pathname}${location.search}#/map`);
  main.append(status('Signing in with the link…'));
  try {
    const answer = await postJson<{ key: string; user: string; keyId: string }>('/v1/auth/link', { token }, null);
    session.set(answer.key, answer.user);
    await route();
  } catch (error) {
    clear(main);
    signIn(error instanceof ApiError && error.status === 401 ? 'This sign-in link has expired or was used already. Ask for a new one, or sign in with a key.' : errorText(error));
  }
}

whenUnauthorized(() => {
  session.clear();
  unmount();
  clear(main);
  signIn('Your key was refused (revoked?). Sign in again.');
});

document.getElementById('sign-out')!.addEventListener('click', () => {
  session.clear();
  location.hash = '';
  void route();
});

window.addEventListener('hashchange', () => {
  if (location.hash.startsWith('#link=')) void signInWithLink(location.hash.slice('#link='.length));
  else void route();
});

if (location.hash.startsWith('#link=')) void signInWithLink(decodeURIComponent(location.hash.slice('#link='.length)));
else void route();

