// REST client: JSON over fetch with the tab's token (sessionStorage).
//
// Every write carries an Idempotency-Key, one per user action (per call of
// a write below): when the server answers 502/503/504 or cannot be reached,
// the same request is sent again with the same key, after the server's
// Retry-After or a growing back-off, at most MAX_ATTEMPTS times. A retry of
// a write that did commit gets the first reply back (Idempotent-Replayed),
// never a second write. While a request waits to be retried, `retries`
// dispatches "retrying" ({label, attempt, max, delay, status}); "settled"
// when it is done either way.

const TOKEN_KEY = 'dengue-ward.token';
const RETRY_STATUSES = new Set([502, 503, 504]);
export const MAX_ATTEMPTS = 5;
const MAX_RETRY_DELAY = 30000;

export class ApiError extends Error {
  /** status 0 means the server could not be reached. body is the parsed JSON reply, if any. */
  constructor(status, body, message) {
    super(message);
    this.status = status;
    this.body = body;
  }

  /** Field errors of a 400 reply: {"field": ["message", ...]}, or null. */
  get fieldErrors() {
    const b = this.body;
    if (this.status !== 400 || !b || typeof b !== 'object' || Array.isArray(b) || 'detail' in b) return null;
    return b;
  }
}

export const retries = new EventTarget();
let sent = 0; // numbers the requests, for the retry events

let unauthorizedHandler = null;

/** Called with the ApiError whenever a request answers 401 (token gone or invalid). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function setToken(key) {
  if (key) sessionStorage.setItem(TOKEN_KEY, key);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function clearToken() {
  setToken(null);
}

/** A random UUID (v4): crypto.randomUUID where the page is a secure context, else from getRandomValues. */
export function newKey() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function describe(status, body) {
  if (body && typeof body === 'object') {
    if (typeof body.detail === 'string') return body.detail;
    const messages = [];
    for (const [field, errors] of Object.entries(body)) {
      const list = Array.isArray(errors) ? errors : [errors];
      const text = list.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join(' ');
      messages.push(field === 'non_field_errors' ? text : `${field}: ${text}`);
    }
    if (messages.length) return messages.join(' ');
  }
  return `The server answered ${status}.`;
}

/** Milliseconds to wait before attempt `attempt` + 1: Retry-After (seconds or a date), else 1, 2, 4, 8 s ± 20 %. */
function retryDelay(resp, attempt) {
  const header = resp?.headers.get('Retry-After');
  if (header) {
    const seconds = Number(header);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : new Date(header).getTime() - Date.now();
    if (Number.isFinite(ms)) return Math.min(MAX_RETRY_DELAY, Math.max(250, ms));
  }
  const base = 1000 * 2 ** (attempt - 1);
  return Math.round(Math.min(MAX_RETRY_DELAY, base) * (0.8 + Math.random() * 0.4));
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function parse(resp) {
  const text = resp.status === 204 ? '' : await resp.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * One request, retried as described above. Returns {data, etag, replayed}.
 * options: key (Idempotency-Key; writes get a new one when not given),
 * ifMatch (an ETag), label (what the user sees while it is retried),
 * retry (default true).
 */
export async function send(method, path, body, { key = null, ifMatch = null, label = null, retry = true } = {}) {
  const write = method !== 'GET' && method !== 'HEAD';
  const headers = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Token ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const id = ++sent;
  if (write) headers['Idempotency-Key'] = key ?? newKey();
  if (ifMatch) headers['If-Match'] = ifMatch;
  const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  let waited = false;
  try {
    for (let attempt = 1; ; attempt += 1) {
      let resp = null;
      try {
        resp = await fetch(path, init);
      } catch {
        resp = null; // not reached, or the connection dropped before a reply
      }
      const transient = !resp || RETRY_STATUSES.has(resp.status);
      if (transient && retry && attempt < MAX_ATTEMPTS && getToken() === token) {
        const delay = retryDelay(resp, attempt);
        waited = true;
        retries.dispatchEvent(new CustomEvent('retrying', {
          detail: {
            id, label, method, key: headers['Idempotency-Key'] ?? null,
            attempt: attempt + 1, max: MAX_ATTEMPTS, delay, status: resp ? resp.status : 0,
          },
        }));
        await sleep(delay);
        continue;
      }
      if (!resp) throw new ApiError(0, null, 'The server cannot be reached. Check the connection and try again.');
      const data = await parse(resp);
      if (!resp.ok) {
        const error = new ApiError(resp.status, data, describe(resp.status, data));
        if (resp.status === 401 && unauthorizedHandler) unauthorizedHandler(error);
        throw error;
      }
      return { data, etag: resp.headers.get('ETag'), replayed: resp.headers.get('Idempotent-Replayed') === 'true' };
    }
  } finally {
    if (waited) retries.dispatchEvent(new CustomEvent('settled', { detail: { id, label } }));
  }
}

async function request(method, path, body, options) {
  return (await send(method, path, body, options)).data;
}

const get = (path) => request('GET', path);
const post = (path, body, options) => request('POST', path, body, options);
const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null) q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : '';
};

/** The path and query of a `next`/`previous` link (absolute URLs, same origin). */
function local(url) {
  const u = new URL(url, location.href);
  return `${u.pathname}${u.search}`;
}

/** A cursor page: {results, next} (next: a path to pass back here, or null). */
export async function page(pathOrNext, params = null) {
  const path = params ? `${pathOrNext}${query({ ...params, cursor: params.cursor ?? '' })}` : local(pathOrNext);
  const data = await get(path);
  return { results: data.results, next: data.next ? local(data.next) : null };
}

/** Every row of a list, by cursor pages of `size`. */
async function allPages(path, params, size = 1000) {
  let current = await page(path, { ...params, page_size: size });
  const rows = [...current.results];
  while (current.next) {
    current = await page(current.next);
    rows.push(...current.results);
  }
  return rows;
}

// --- auth --------------------------------------------------------------

export async function login(username, password) {
  const { key } = await post('/rest-auth/login/', { username, password }, { retry: false });
  setToken(key);
  return key;
}

export async function logout() {
  try {
    await post('/rest-auth/logout/', undefined, { retry: false });
  } finally {
    setToken(null);
  }
}

export const me = () => get('/rest-auth/user/');

// --- what the board loads --------------------------------------------------

/** The ward as the overview shows it; `since` is an ISO 8601 instant (the report window's start). */
export const listAdmitted = (ward) => get(`/api/patients/${query({ admitted: 'true', ward })}`);
export const listWardReports = (ward, since) => get(`/api/reports/${query({ ward, since })}`);
export const listOpenNotifications = (ward) =>
  get(`/api/notifications/${query({ ward, admitted: 'true', acknowledged: 'false' })}`);

/** One patient's reports, newest first, by cursor pages. */
export const reportPage = (patient, size) => page('/api/reports/', { patient, page_size: size });
export const patientReportsSince = (patient, since) => get(`/api/reports/${query({ patient, since })}`);
export const patientOpenNotifications = (patient) =>
  get(`/api/notifications/${query({ patient, acknowledged: 'false' })}`);

/** Dismissed patients of a ward, newest admission first, optionally matching a name. */
export const dismissedPage = (ward, search, size) =>
  page('/api/patients/', { ward, admitted: 'false', search: search || null, page_size: size });

// --- clinical resources --------------------------------------------------

export const getPatient = (id) => send('GET', `/api/patients/${id}/`);
export const createPatient = (data, options) => post('/api/patients/', data, options);
export const updatePatient = (id, data, options) => send('PUT', `/api/patients/${id}/`, data, options);
export const deletePatient = (id, options) => request('DELETE', `/api/patients/${id}/`, undefined, options);

export const getReport = (id) => send('GET', `/api/reports/${id}/`);
export const createReport = (data, options) => post('/api/reports/', data, options);
export const updateReport = (id, data, options) => send('PUT', `/api/reports/${id}/`, data, options);
export const deleteReport = (id, options) => request('DELETE', `/api/reports/${id}/`, undefined, options);

export const listHistory = (filters) => get(`/api/history/${query(filters)}`);
export const restoreHistory = (historyId, options) => post(`/api/history/${historyId}/restore/`, undefined, options);

export const acknowledgeNotification = (id, options) => post(`/api/notifications/${id}/acknowledge/`, undefined, options);

// --- administration (staff) ----------------------------------------------------

export const listWards = () => allPages('/api/wards/', {});
export const getWard = (id) => send('GET', `/api/wards/${id}/`);
export const createWard = (data, options) => post('/api/wards/', data, options);
export const updateWard = (id, data, options) => send('PATCH', `/api/wards/${id}/`, data, options);

export const userPage = (size) => page('/api/users/', { page_size: size });
export const getUser = (id) => send('GET', `/api/users/${id}/`);
export const createUser = (data, options) => post('/api/users/', data, options);
export const updateUser = (id, data, options) => send('PATCH', `/api/users/${id}/`, data, options);
export const setPassword = (id, password, options) => post(`/api/users/${id}/set_password/`, { password }, options);
