// REST client: JSON over fetch with the tab's token (sessionStorage).

const TOKEN_KEY = 'dengue-ward.token';

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

async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Token ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, null, 'The server cannot be reached. Check the connection and try again.');
  }
  const text = resp.status === 204 ? '' : await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const error = new ApiError(resp.status, data, describe(resp.status, data));
    if (resp.status === 401 && unauthorizedHandler) unauthorizedHandler(error);
    throw error;
  }
  return data;
}

const get = (path) => request('GET', path);
const post = (path, body) => request('POST', path, body);
const put = (path, body) => request('PUT', path, body);
const del = (path) => request('DELETE', path);
const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null) q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : '';
};

// --- auth --------------------------------------------------------------

export async function login(username, password) {
  const { key } = await post('/rest-auth/login/', { username, password });
  setToken(key);
  return key;
}

export async function logout() {
  try {
    await post('/rest-auth/logout/');
  } finally {
    setToken(null);
  }
}

export const me = () => get('/rest-auth/user/');

// --- clinical resources --------------------------------------------------

export const listPatients = () => get('/api/patients/');
export const createPatient = (data) => post('/api/patients/', data);
export const updatePatient = (id, data) => put(`/api/patients/${id}/`, data);
export const deletePatient = (id) => del(`/api/patients/${id}/`);

export const listReports = (patient) => get(`/api/reports/${query({ patient })}`);
export const createReport = (data) => post('/api/reports/', data);
export const updateReport = (id, data) => put(`/api/reports/${id}/`, data);
export const deleteReport = (id) => del(`/api/reports/${id}/`);

export const listHistory = (filters) => get(`/api/history/${query(filters)}`);
export const restoreHistory = (historyId) => post(`/api/history/${historyId}/restore/`);

export const listNotifications = (filters) => get(`/api/notifications/${query(filters)}`);
export const acknowledgeNotification = (id) => post(`/api/notifications/${id}/acknowledge/`);
