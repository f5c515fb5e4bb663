// Dengue Ward board: session, ward, data sync, routing and rendering.
//
// Data flow: the board shows one ward (the picker in the top bar). A REST
// snapshot of that ward fills the store: its admitted patients, their
// reports of the last 72 h (and the latest one of a patient who has none in
// that window) and the open notifications of admitted patients; nothing of
// dismissed patients, who are found by search. A patient's chart reads the
// patient's own reports by cursor pages ("Older observations").
//
// Live broadcasts from the one WebSocket keep the store current. A snapshot
// is (re)loaded whenever the socket connects without resuming (first
// connect, or after a 410) or the ward changes; broadcasts that arrive
// meanwhile are held and applied on top, in order, so nothing is lost. A
// patient who comes into the ward (admitted, moved here, or newly visible)
// has their recent reports and open notifications read on their own.
//
// For benchmarks: performance marks "board-ready" (the first time the
// ward's cards are shown) and measures "board-load" (snapshot start to
// ready) and "board-render" (each render), also kept in window.__board.
import * as api from './api.js';
import { createActions } from './actions.js';
import { $, h } from './dom.js';
import { Live } from './live.js';
import { Store, WINDOW_MS } from './store.js';
import { renderAdmin } from './views/admin.js';
import { tickCountdowns } from './views/common.js';
import { renderLogin } from './views/login.js';
import { renderOverview, resetOverview } from './views/overview.js';
import { renderPatient } from './views/patient.js';
import { Toasts } from './views/toasts.js';

const FALLBACK_LOAD_MS = 1500; // show data even if the socket is slow to open
const RETRY_LOAD_MS = 3000;
const CHART_PAGE = 50; // reports per page of a patient's chart
const ARRIVALS_RESYNC = 10; // more patients than this arriving at once: reload the ward instead
const WARD_KEY = 'dengue-ward.ward';

const main = $('#main');
const store = new Store();
let live = null;
let fallbackTimer = null;
let epoch = 0; // grows every minute: what depends on the clock is redrawn
const sync = { running: null, full: false, patients: new Set(), buffering: false, buffer: [] };
const lookups = new Map(); // patient id -> {state: loading|found|missing|elsewhere|error, ward, message}
const arrivals = new Set();
let arrivalsTimer = null;

const board = {
  store,
  ready: null, // ms since navigation start when the ward was first shown
  loadStart: null,
  lastRender: null, // ms
  renders: [], // ms, the latest 1,000 at most
  wardReady: null, // ms since navigation start when the current ward was last shown
};
window.__board = board;

// --- errors and retries ---------------------------------------------------

const errorBanner = $('#app-error');
function showError(message) {
  errorBanner.replaceChildren(
    h('span', {}, message),
    h('button', { type: 'button', class: 'btn btn-quiet btn-small', onclick: () => { errorBanner.hidden = true; } }, 'Dismiss'));
  errorBanner.hidden = false;
}

const retryBanner = $('#retry-banner');
const waiting = new Map(); // request id -> its latest "retrying" detail
function showRetries() {
  const latest = [...waiting.values()].at(-1);
  retryBanner.hidden = !latest;
  if (!latest) return;
  const why = latest.status ? `the server answered ${latest.status}` : 'the server could not be reached';
  const what = latest.label ?? (latest.method === 'GET' ? 'Loading' : 'Saving');
  retryBanner.textContent = `${what}: ${why}. Trying again in ${Math.max(1, Math.round(latest.delay / 1000))} s `
    + `(attempt ${latest.attempt} of ${latest.max})…`;
}
api.retries.addEventListener('retrying', (e) => { waiting.set(e.detail.id, e.detail); showRetries(); });
api.retries.addEventListener('settled', (e) => { waiting.delete(e.detail.id); showRetries(); });

// --- the ward ------------------------------------------------------------------

const picker = $('#ward-picker');
const adminLink = $('#admin-link');

async function loadWards() {
  const all = await api.listWards();
  const mine = store.isStaff ? all : all.filter((w) => store.user.wards.includes(w.id));
  return mine.sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
}

function showPicker() {
  picker.replaceChildren(...store.wards.map((w) => h('option', { value: String(w.id), selected: w.id === store.ward }, w.name)));
  picker.disabled = store.wards.length < 2;
  $('#ward-pick').hidden = !store.wards.length;
  adminLink.hidden = !store.isStaff;
}

/** Show another ward: forget this one's data and load that one's. */
function setWard(id, { stay = false } = {}) {
  if (id === store.ward && store.loaded) return;
  store.ward = id;
  if (id == null) sessionStorage.removeItem(WARD_KEY);
  else sessionStorage.setItem(WARD_KEY, String(id));
  store.clearData();
  lookups.clear();
  resetOverview();
  showPicker();
  delete document.body.dataset.wardReady;
  store.emit({ stream: '*', action: 'ward', data: null, live: false, patient: null });
  if (!stay && location.hash !== '#/' && location.hash !== '') location.hash = '#/';
  if (id != null && live) requestSync({ full: true });
  render();
}

/** The ward list changed (administration): keep the picker current. */
async function refreshWards() {
  store.wards = await loadWards();
  if (store.ward != null && !store.wards.some((w) => w.id === store.ward)) setWard(store.wards[0]?.id ?? null, { stay: true });
  else if (store.ward == null && store.wards.length) setWard(store.wards[0].id, { stay: true });
  else showPicker();
}

picker.addEventListener('change', () => setWard(Number(picker.value)));

// --- rendering -------------------------------------------------------------

function route() {
  const match = location.hash.match(/^#\/patients\/(\d+)\/?$/);
  if (match) return { view: 'patient', id: Number(match[1]) };
  if (/^#\/admin\/?$/.test(location.hash)) return { view: 'admin' };
  return { view: 'overview' };
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

function measureRender(start) {
  const end = performance.now();
  performance.measure('board-render', { start, end });
  board.lastRender = end - start;
  board.renders.push(board.lastRender);
  if (board.renders.length > 1000) {
    board.renders.splice(0, 500);
    performance.clearMeasures('board-render');
  }
}

function markReady() {
  if (document.body.dataset.wardReady) return;
  const now = performance.now();
  board.wardReady = now;
  document.body.dataset.wardReady = 'true';
  if (board.ready != null) return;
  board.ready = now;
  performance.mark('board-ready');
  if (board.loadStart != null) performance.measure('board-load', { start: board.loadStart, end: now });
}

const views = {
  store,
  get actions() { return actions; },
  get epoch() { return epoch; },
  lookup,
  retryLookup,
  loadOlder,
  setWard,
  refreshWards,
  rerender: () => scheduleRender(),
};

function render() {
  if (!store.user) return;
  const start = performance.now();
  const current = route();
  const routeKey = `${current.view}/${current.id ?? ''}`;
  if (current.view === 'admin') {
    if (lastRouteKey !== routeKey || main.dataset.view !== 'admin') renderAdmin(main, views);
    lastRouteKey = routeKey;
    return;
  }
  if (store.ward == null) {
    main.dataset.view = 'no-ward';
    main.replaceChildren(h('p', { class: 'empty', role: 'status' }, store.isStaff
      ? 'There is no ward yet. Create one under Administration.'
      : 'You are not assigned to any ward yet. Ask an administrator to add you to one.'));
    lastRouteKey = null;
    return;
  }
  if (!store.loaded) {
    main.dataset.view = 'loading';
    main.replaceChildren(h('p', { class: 'loading', role: 'status' }, `Loading ${store.wardName(store.ward)}…`));
    lastRouteKey = null;
    return;
  }
  // Keep focus and horizontal scroll across re-renders.
  const focusKey = main.contains(document.activeElement) ? document.activeElement.dataset?.key : null;
  const scrolls = new Map();
  if (routeKey === lastRouteKey) {
    for (const el of main.querySelectorAll('[data-scroll-key]')) {
      scrolls.set(el.dataset.scrollKey, { left: el.scrollLeft, atEnd: el.scrollLeft + el.clientWidth >= el.scrollWidth - 2 });
    }
  }
  lastRouteKey = routeKey;
  if (current.view === 'patient') renderPatient(main, current.id, views);
  else renderOverview(main, views);
  // Wide tables open scrolled to the newest column, and stay there as columns arrive.
  for (const el of main.querySelectorAll('[data-scroll-key]')) {
    const saved = scrolls.get(el.dataset.scrollKey);
    if (!saved || saved.atEnd) el.scrollLeft = el.scrollWidth;
    else if (el.scrollLeft !== saved.left) el.scrollLeft = saved.left;
  }
  if (focusKey && !main.contains(document.activeElement)) main.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
  measureRender(start);
  markReady();
}

store.addEventListener('change', (event) => {
  toasts.sync();
  if (event.detail.render !== false) scheduleRender();
});

window.addEventListener('hashchange', () => {
  render();
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
});

setInterval(() => tickCountdowns(main), 1000);
// The 24-hour fluid balance slides with the clock; refresh it now and then.
setInterval(() => {
  epoch += 1;
  if (store.loaded && !document.querySelector('dialog[open]')) scheduleRender();
}, 60000);

// --- what a view asks for -----------------------------------------------------

/** A patient the store does not hold (a dismissed one, a link): read it once. */
function lookup(patientId) {
  const known = lookups.get(patientId);
  if (known && known.state !== 'found') return known; // found before but no longer held: read again
  const entry = { state: 'loading' };
  lookups.set(patientId, entry);
  const ward = store.ward;
  api.getPatient(patientId).then(({ data }) => {
    if (lookups.get(patientId) !== entry || store.ward !== ward) return;
    if (data.ward !== store.ward) {
      Object.assign(entry, { state: 'elsewhere', ward: data.ward });
    } else {
      store.merge({ patients: [data] });
      entry.state = store.patients.has(patientId) ? 'found' : 'missing';
    }
    scheduleRender();
  }, (error) => {
    if (lookups.get(patientId) !== entry) return;
    Object.assign(entry, { state: error.status === 404 ? 'missing' : 'error', message: error.message });
    scheduleRender();
  });
  return entry;
}

function retryLookup(patientId) {
  lookups.delete(patientId);
  scheduleRender();
}

/** The next (first: the newest) page of a patient's reports, for the chart. */
async function loadOlder(patientId) {
  const state = store.pages.get(patientId) ?? { first: false, next: null };
  if (state.loading || (state.first && !state.next)) return;
  const { ward, loadedAt } = store;
  store.setPages(patientId, { ...state, loading: true, error: null });
  try {
    const found = state.first ? await api.page(state.next) : await api.reportPage(patientId, CHART_PAGE);
    if (store.ward !== ward || store.loadedAt !== loadedAt) return; // reloaded meanwhile
    store.merge({ reports: found.results });
    store.setPages(patientId, { first: true, next: found.next, loading: false, error: null });
  } catch (error) {
    if (store.ward !== ward || store.loadedAt !== loadedAt) return;
    store.setPages(patientId, { ...state, loading: false, error: error.message });
  }
}

// --- live events and snapshots ----------------------------------------------

function applyEvent(stream, payload) {
  const result = store.apply(stream, payload, true);
  if (result === 'arrived') arrived(payload.data.id ?? payload.data.pk);
  if (result && stream === 'notifications' && payload.action === 'notification' && !payload.data.acknowledged_at) {
    toasts.show(payload.data);
  }
}

function onEvent(stream, payload) {
  if (sync.buffering) sync.buffer.push([stream, payload]);
  else applyEvent(stream, payload);
}

/** A patient came into the ward: read their reports and notifications (a few at once, shortly after). */
function arrived(patientId) {
  arrivals.add(patientId);
  if (arrivalsTimer) return;
  arrivalsTimer = setTimeout(() => {
    arrivalsTimer = null;
    const ids = [...arrivals];
    arrivals.clear();
    if (ids.length > ARRIVALS_RESYNC) requestSync({ full: true });
    else requestSync({ patients: ids });
  }, 50);
}

const windowStart = () => new Date(Date.now() - WINDOW_MS).toISOString();

async function loadWard(ward) {
  const since = windowStart();
  const [patients, reports, notifications] = await Promise.all([
    api.listAdmitted(ward), api.listWardReports(ward, since), api.listOpenNotifications(ward),
  ]);
  // A patient without a report in the window: their latest, for the card's phase and due time.
  const seen = new Set(reports.map((r) => r.patient));
  const latest = await Promise.all(patients.filter((p) => !seen.has(p.id)).map((p) => api.reportPage(p.id, 1)));
  return { ward, patients, reports: [...reports, ...latest.flatMap((p) => p.results)], notifications };
}

async function loadPatient(patientId) {
  const [reports, notifications] = await Promise.all([
    api.reportPage(patientId, 100), api.patientOpenNotifications(patientId),
  ]);
  return { reports: reports.results, notifications };
}

/**
 * Load the ward (full) or some patients' data; events arriving meanwhile are
 * applied after it. Calls while one runs are folded into it.
 */
function requestSync({ full = false, patients = [] } = {}) {
  clearTimeout(fallbackTimer);
  if (full) sync.full = true;
  for (const id of patients) sync.patients.add(id);
  if (!sync.running) {
    sync.buffering = true;
    sync.running = runSync().finally(() => { sync.running = null; });
  }
  return sync.running;
}

async function runSync() {
  let failed = null;
  while ((sync.full || sync.patients.size) && store.user && store.ward != null) {
    const ward = store.ward;
    try {
      if (sync.full) {
        sync.full = false;
        sync.patients.clear();
        board.loadStart ??= performance.now();
        const snapshot = await loadWard(ward);
        if (store.user && store.ward === ward) {
          lookups.clear();
          store.reset(snapshot);
        }
      } else {
        const ids = [...sync.patients];
        sync.patients.clear();
        const parts = await Promise.all(ids.map(loadPatient));
        if (store.user && store.ward === ward) {
          store.merge({ reports: parts.flatMap((p) => p.reports), notifications: parts.flatMap((p) => p.notifications) });
        }
      }
    } catch (error) {
      failed = error;
      break;
    }
  }
  sync.full = false;
  sync.patients.clear();
  sync.buffering = false;
  const pending = sync.buffer;
  sync.buffer = [];
  for (const [stream, payload] of pending) applyEvent(stream, payload);
  if (failed && failed.status !== 401 && store.user) {
    showError(`The ward could not be loaded: ${failed.message} Retrying…`);
    fallbackTimer = setTimeout(() => requestSync({ full: true }), RETRY_LOAD_MS);
  } else if (!failed && !errorBanner.hidden && errorBanner.textContent.startsWith('The ward could not be loaded')) {
    errorBanner.hidden = true;
  }
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

const actions = createActions({ store, showError });
const toasts = new Toasts($('#toasts'), { store, onAcknowledge: (n) => actions.acknowledge(n) });

async function startSession() {
  const [user, wards] = await Promise.all([api.me(), api.listWards()]);
  store.user = user;
  const { username, first_name: first, last_name: last } = user;
  const name = [first, last].filter(Boolean).join(' ');
  $('#who').textContent = `Signed in as ${username}${name ? ` (${name})` : ''}`;
  $('#session').hidden = false;
  const mine = store.isStaff ? wards : wards.filter((w) => user.wards.includes(w.id));
  store.wards = mine.sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
  const saved = Number(sessionStorage.getItem(WARD_KEY));
  store.ward = store.wards.some((w) => w.id === saved) ? saved : (store.wards[0]?.id ?? null);
  showPicker();
  live = new Live({
    token: api.getToken(),
    onEvent,
    onOpen: ({ resumed }) => { if (!resumed) requestSync({ full: true }); },
    onReset: () => requestSync({ full: true }),
    onStatus,
    onRejected: () => { api.me().catch(() => {}); }, // a 401 here ends the session
    onSessionEnded: () => { if (store.user) endSession('Your session has ended. Please log in again.'); },
  });
  live.start();
  fallbackTimer = setTimeout(() => { if (!store.loaded) requestSync({ full: true }); }, FALLBACK_LOAD_MS);
  render();
}

function endSession(message) {
  clearTimeout(fallbackTimer);
  clearTimeout(arrivalsTimer);
  arrivalsTimer = null;
  arrivals.clear();
  live?.stop();
  live = null;
  store.clear();
  lookups.clear();
  resetOverview();
  toasts.clear();
  sync.buffer = [];
  waiting.clear();
  showRetries();
  for (const dialog of document.querySelectorAll('dialog')) dialog.close();
  api.clearToken();
  $('#session').hidden = true;
  offlineBanner.hidden = true;
  errorBanner.hidden = true;
  delete document.body.dataset.wardReady;
  lastRouteKey = null;
  showLogin(message);
}

function showLogin(message = null) {
  main.dataset.view = 'login';
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
