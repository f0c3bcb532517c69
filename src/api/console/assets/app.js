// The console: a hash router over a few pages, the header (gateway, who, live state) and the login gate.
import { ApiError, csrfToken, get, logout, setCsrfToken, whenUnauthorized } from './api.js';
import { h, note, replace } from './dom.js';
import { connect, disconnect, setProbe } from './live.js';
import { setZone } from './time.js';
import * as alarm from './pages/alarm.js';
import * as audit from './pages/audit.js';
import * as board from './pages/board.js';
import * as delivery from './pages/delivery.js';
import * as devices from './pages/devices.js';
import * as login from './pages/login.js';
import * as oncall from './pages/oncall.js';
import * as silences from './pages/silences.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const menuToggle = document.getElementById('menu-toggle');
const logoutButton = document.getElementById('logout');

/** [pattern, page, nav name]; a page's render(main, params, session) may return a cleanup function. */
const ROUTES = [
  [/^\/?$/, board, 'board'],
  [/^\/alarms\/([^/]+)$/, alarm, 'board'],
  [/^\/silences(?:\/new)?$/, silences, 'silences'],
  [/^\/oncall$/, oncall, 'oncall'],
  [/^\/delivery$/, delivery, 'delivery'],
  [/^\/devices$/, devices, 'devices'],
  [/^\/audit$/, audit, 'audit'],
  [/^\/login$/, login, ''],
];

const session = { info: undefined, returnTo: '#/' };
let cleanup;
let showingLogin = false;

/** The route part of the hash and its query: "#/silences/new?alarm=X" -> ["/silences/new", URLSearchParams]. */
export function currentRoute() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = hash.split('?');
  return { path, params: new URLSearchParams(search) };
}

async function loadInfo() {
  const info = await get('/info');
  // A tab opened on a login made in another tab: its CSRF token comes with the session.
  if (info.principal.via === 'session' && !csrfToken()) setCsrfToken((await get('/session')).csrfToken);
  session.info = info;
  setZone(info.timeZone, info.locale);
  document.getElementById('gateway').textContent = info.gateway;
  document.getElementById('who').textContent = `${info.principal.name} (${info.principal.role})`;
  logoutButton.hidden = info.principal.via !== 'session';
  document.title = `Annunciator · ${info.gateway}`;
  document.body.dataset.role = info.principal.role;
  // The audit log is for admins (the API refuses the others); no link that leads to a refusal.
  nav.querySelector('a[data-page=audit]').hidden = info.principal.role !== 'admin';
  return info;
}

async function route() {
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  const { path, params } = currentRoute();
  const found = ROUTES.find(([pattern]) => pattern.test(path));
  nav.classList.remove('open');
  menuToggle.setAttribute('aria-expanded', 'false');
  if (!found) {
    replace(main, h('h1', {}, 'Not found'), note('There is no such page of the console.'), h('a', { href: '#/' }, 'To the alarms'));
    return;
  }
  const [pattern, page, name] = found;
  for (const link of nav.querySelectorAll('a')) link.classList.toggle('current', link.dataset.page === name);
  if (page !== login && !session.info) {
    try {
      await loadInfo();
      connect(document.getElementById('live'));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return; // the login page is on its way
      replace(main, note(`The gateway could not be reached: ${error.message}`, 'error'));
      return;
    }
  }
  const match = pattern.exec(path);
  const args = match.slice(1).map((p) => decodeURIComponent(p));
  try {
    cleanup = await page.render(main, { args, params, path }, session);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    replace(main, note(`This page could not be shown: ${error.message}`, 'error'));
  }
}

function showLogin() {
  if (showingLogin) return;
  showingLogin = true;
  disconnect();
  session.info = undefined;
  const here = location.hash;
  if (!here.startsWith('#/login')) session.returnTo = here || '#/';
  location.hash = '#/login';
}

whenUnauthorized(showLogin);
setProbe(() => get('/info'));

/** After a login: back to the page that asked for it. */
session.loggedIn = async () => {
  showingLogin = false;
  await loadInfo();
  connect(document.getElementById('live'));
  location.hash = session.returnTo && session.returnTo !== '#/login' ? session.returnTo : '#/';
};

menuToggle.addEventListener('click', () => {
  const open = nav.classList.toggle('open');
  menuToggle.setAttribute('aria-expanded', String(open));
});
logoutButton.addEventListener('click', async () => {
  await logout().catch(() => undefined);
  setCsrfToken(undefined);
  showLogin();
});

window.addEventListener('hashchange', route);
route();
