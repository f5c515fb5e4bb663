// Dengue Ward board: session, data sync, routing and rendering.
//
// Data flow: a REST snapshot (patients, reports, open notifications) fills
// the store; live broadcasts from the one WebSocket keep it current. A
// snapshot is (re)loaded whenever the socket connects without resuming
// (first connect, or after a 410); broadcasts that arrive meanwhile are held
// and applied on top, in order, so nothing is lost or applied twice.
import * as api from './api.js';
import { createActions } from './actions.js';
import { $, h } from './dom.js';
import { Live } from './live.js';
import { Store } from './store.js';
import { tickCountdowns } from './views/common.js';
import { renderLogin } from './views/login.js';
import { renderOverview } from './views/overview.js';
import { renderPatient } from './views/patient.js';
import { Toasts } from './views/toasts.js';

const FALLBACK_LOAD_MS = 1500; // show data even if the socket is slow to open
const RETRY_LOAD_MS = 3000;

const main = $('#main');
const store = new Store();
let live = null;
let fallbackTimer = null;
const sync = { running: null, again: false, buffering: false, buffer: [] };

// --- errors --------------------------------------------------------------

const errorBanner = $('#app-error');
function showError(message) {
  errorBanner.replaceChildren(
    h('span', {}, message),
    h('button', { type: 'button', class: 'btn btn-quiet btn-small', onclick: () => { errorBanner.hidden = true; } }, 'Dismiss'));
  errorBanner.hidden = false;
}

const actions = createActions({ store, showError });
const toasts = new Toasts($('#toasts'), { store, onAcknowledge: (n) => actions.acknowledge(n) });

// --- rendering -------------------------------------------------------------

function route() {
  const match = location.hash.match(/^#\/patients\/(\d+)\/?$/);
  return match ? { view: 'patient', id: Number(match[1]) } : { view: 'overview' };
}

let renderQueued = false;
let lastRouteKey = null;
/** Render once after a burst of changes (a replay after reconnecting may bring many). */
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => {
    renderQueued = false;
    render();
  }, 0);
}

function render() {
  if (!store.user) return;
  if (!store.loaded) {
    main.replaceChildren(h('p', { class: 'loading', role: 'status' }, 'Loading the ward…'));
    return;
  }
  // Keep focus and horizontal scroll across re-renders.
  const focusKey = main.contains(document.activeElement) ? document.activeElement.dataset?.key : null;
  const current = route();
  const routeKey = `${current.view}/${current.id ?? ''}`;
  const scrolls = new Map();
  if (routeKey === lastRouteKey) {
    for (const el of main.querySelectorAll('[data-scroll-key]')) {
      scrolls.set(el.dataset.scrollKey, { left: el.scrollLeft, atEnd: el.scrollLeft + el.clientWidth >= el.scrollWidth - 2 });
    }
  }
  lastRouteKey = routeKey;
  if (current.view === 'patient') renderPatient(main, current.id, { store, actions });
  else renderOverview(main, { store, actions });
  // Wide tables open scrolled to the newest column, and stay there as columns arrive.
  for (const el of main.querySelectorAll('[data-scroll-key]')) {
    const saved = scrolls.get(el.dataset.scrollKey);
    el.scrollLeft = !saved || saved.atEnd ? el.scrollWidth : saved.left;
  }
  if (focusKey) main.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
}

store.addEventListener('change', () => {
  toasts.sync();
  scheduleRender();
});

window.addEventListener('hashchange', () => {
  render();
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
});

setInterval(() => tickCountdowns(main), 1000);
// The 24-hour fluid balance slides with the clock; refresh it now and then.
setInterval(() => { if (store.loaded && !document.querySelector('dialog[open]')) scheduleRender(); }, 60000);

// --- live events and snapshots ----------------------------------------------

function applyEvent(stream, payload) {
  store.apply(stream, payload, true);
  if (stream === 'notifications' && payload.action === 'notification' && !payload.data.acknowledged_at) {
    toasts.show(payload.data);
  }
}

function onEvent(stream, payload) {
  if (sync.buffering) sync.buffer.push([stream, payload]);
  else applyEvent(stream, payload);
}

/** Load a fresh snapshot; events arriving meanwhile are applied after it. */
function resync() {
  clearTimeout(fallbackTimer);
  if (sync.running) {
    sync.again = true;
    return sync.running;
  }
  sync.buffering = true;
  sync.running = (async () => {
    let failed; // every pass of the loop sets it before it is read
    do {
      sync.again = false;
      try {
        const [patients, reports, notifications] = await Promise.all([
          api.listPatients(), api.listReports(), api.listNotifications({ acknowledged: 'false' }),
        ]);
        if (!store.user) return; // logged out meanwhile
        store.reset({ patients, reports, notifications });
        failed = null;
      } catch (error) {
        failed = error;
      }
    } while (sync.again && !failed);
    sync.buffering = false;
    const pending = sync.buffer;
    sync.buffer = [];
    for (const [stream, payload] of pending) applyEvent(stream, payload);
    if (failed && failed.status !== 401 && store.user) {
      showError(`The ward could not be loaded: ${failed.message} Retrying…`);
      fallbackTimer = setTimeout(resync, RETRY_LOAD_MS);
    } else if (!failed && !errorBanner.hidden && errorBanner.textContent.startsWith('The ward could not be loaded')) {
      errorBanner.hidden = true;
    }
  })().finally(() => {
    sync.running = null;
  });
  return sync.running;
}

const connState = $('#conn-state');
const offlineBanner = $('#offline-banner');
const offlineText = $('#offline-text');
function onStatus(state, info) {
  connState.dataset.state = state;
  connState.textContent = { online: 'Live', connecting: 'Connecting…', offline: 'Offline' }[state];
  offlineBanner.hidden = state !== 'offline';
  if (state === 'offline') {
    const seconds = Math.max(1, Math.round((info.retryIn ?? 0) / 1000));
    offlineText.textContent = `Live updates are paused; reconnecting in about ${seconds} s. Changes made meanwhile will appear when the connection is back.`;
  }
}
$('#reconnect-now').addEventListener('click', () => live?.reconnectNow());

// --- session -------------------------------------------------------------------

async function startSession() {
  store.user = await api.me();
  const { username, first_name: first, last_name: last } = store.user;
  const name = [first, last].filter(Boolean).join(' ');
  $('#who').textContent = `Signed in as ${username}${name ? ` (${name})` : ''}`;
  $('#session').hidden = false;
  live = new Live({
    token: api.getToken(),
    onEvent,
    onOpen: ({ resumed }) => { if (!resumed) resync(); },
    onReset: () => resync(),
    onStatus,
    onRejected: () => { api.me().catch(() => {}); }, // a 401 here ends the session
  });
  live.start();
  fallbackTimer = setTimeout(() => { if (!store.loaded) resync(); }, FALLBACK_LOAD_MS);
  render();
}

function endSession(message) {
  clearTimeout(fallbackTimer);
  live?.stop();
  live = null;
  store.clear();
  toasts.clear();
  sync.buffer = [];
  for (const dialog of document.querySelectorAll('dialog')) dialog.close();
  api.clearToken();
  $('#session').hidden = true;
  offlineBanner.hidden = true;
  errorBanner.hidden = true;
  showLogin(message);
}

function showLogin(message = null) {
  renderLogin(main, {
    message,
    onLogin: async (username, password) => {
      await api.login(username, password);
      await startSession();
    },
  });
}

api.onUnauthorized(() => {
  if (store.user) endSession('Your session has ended (logged out or token no longer valid). Please log in again.');
});

$('#logout').addEventListener('click', async () => {
  try {
    await api.logout();
  } catch {
    // the token is forgotten here either way
  }
  endSession('You have logged out.');
});

async function boot() {
  if (!api.getToken()) {
    showLogin();
    return;
  }
  try {
    await startSession();
  } catch (error) {
    if (error.status === 401) endSession('Your session has ended. Please log in again.');
    else {
      main.replaceChildren(
        h('p', { class: 'form-error', role: 'alert' }, `The ward board could not start: ${error.message}`),
        h('button', { type: 'button', class: 'btn', onclick: () => location.reload() }, 'Try again'));
    }
  }
}

boot();
