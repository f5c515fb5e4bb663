// The page's one WebSocket: /ws/?token=<key>[&since=<last event_id seen>].
//
// Every broadcast carries an event_id that only grows. The highest one seen
// is kept, and a reconnect asks for everything after it, so a dropped
// connection loses nothing. A frame on stream "events" with status 410 means
// the server no longer has those events: the page must reload its data.
//
// Callbacks:
//   onEvent(stream, payload)  a broadcast, in event_id order, each at most once
//   onOpen({resumed})         connected; resumed = the server replays what was missed
//   onReset()                 410: reload everything
//   onStatus(state, info)     'connecting' | 'online' | 'offline', info.retryIn (ms)
//   onRejected()              the handshake failed (perhaps the token is gone)
//   onSessionEnded()          closed with 4401: the session ended (logout elsewhere,
//                             expiry, password change, deactivation); no reconnect
//
// Close codes: 4401 ends the session; 1001 (the server shuts down) reconnects
// at once, to whichever process answers; 1008 (too slow, too many frames)
// backs off further before reconnecting.

const MIN_DELAY = 500;
const MAX_DELAY = 10000;
const STABLE_MS = 5000; // a connection open this long resets the backoff
export const CLOSE_SESSION_ENDED = 4401;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY = 1008;

export class Live {
  constructor({ token, onEvent, onOpen, onReset, onStatus, onRejected, onSessionEnded }) {
    this.token = token;
    this.handlers = { onEvent, onOpen, onReset, onStatus, onRejected, onSessionEnded };
    this.lastEventId = null;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
    this.state = 'connecting';
    this.onOnline = () => this.reconnectNow();
  }

  start() {
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, 'logged out');
  }

  /** Skip the remaining backoff (button, or the browser is back online). */
  reconnectNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  url() {
    const params = new URLSearchParams({ token: this.token });
    if (this.lastEventId != null) params.set('since', String(this.lastEventId));
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${location.host}/ws/?${params}`;
  }

  setStatus(state, info = {}) {
    this.state = state;
    this.handlers.onStatus?.(state, info);
  }

  connect() {
    this.timer = null;
    const resumed = this.lastEventId != null;
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    let opened = false;
    let openedAt = 0;
    if (this.state !== 'offline') this.setStatus('connecting');

    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      opened = true;
      openedAt = Date.now();
      this.setStatus('online');
      this.handlers.onOpen?.({ resumed });
    });
    ws.addEventListener('message', (event) => {
      if (this.ws === ws) this.receive(event.data);
    });
    ws.addEventListener('close', (event) => {
      if (this.ws !== ws) return; // replaced or stopped
      this.ws = null;
      if (this.stopped) return;
      if (event.code === CLOSE_SESSION_ENDED) {
        this.stop();
        this.handlers.onSessionEnded?.();
        return;
      }
      if (opened && Date.now() - openedAt >= STABLE_MS) this.attempt = 0;
      if (event.code === CLOSE_GOING_AWAY) this.attempt = 0;
      if (event.code === CLOSE_POLICY) this.attempt = Math.max(this.attempt, 3);
      if (!opened) this.handlers.onRejected?.();
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.setStatus('offline', { retryIn: delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    const { stream, payload } = frame || {};
    if (!payload || typeof payload !== 'object') return;
    if (stream === 'events' && payload.response_status === 410) {
      this.lastEventId = null; // the server's numbering may have moved on entirely
      this.handlers.onReset?.();
      return;
    }
    if (typeof payload.event_id !== 'number' || payload.request_id != null) return; // not a broadcast
    if (this.lastEventId != null && payload.event_id <= this.lastEventId) return; // seen already
    this.lastEventId = payload.event_id;
    this.handlers.onEvent?.(stream, payload);
  }
}
