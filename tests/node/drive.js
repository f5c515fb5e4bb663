// Drives the real dcrf-client 0.3.0 against a running Dengue Ward server.
// Usage: node drive.js <http base url> <token>
// Prints one JSON object per line ({"step": ..., ...}); reads "stopped" and
// "restarted" lines on stdin when the Python test restarts the server.
'use strict';
const WebSocket = require('ws');
const readline = require('readline');
const dcrf = require('dcrf-client').default;

const [base, token] = process.argv.slice(2);
const wsUrl = `${base.replace(/^http/, 'ws')}/ws/?token=${token}`;
const headers = { Authorization: `Token ${token}`, 'Content-Type': 'application/json' };
const lines = readline.createInterface({ input: process.stdin });
const waiting = [];
lines.on('line', (line) => { const w = waiting.shift(); if (w) w(line.trim()); });
const nextLine = () => new Promise((resolve) => waiting.push(resolve));

function say(step, extra = {}) { process.stdout.write(JSON.stringify({ step, ...extra }) + '\n'); }
function within(ms, promise, what) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms))]);
}
async function rejection(promise) {
  try { await promise; return null; } catch (payload) { return payload; }
}

async function main() {
  const client = dcrf.connect(wsUrl, {
    websocket: { WebSocket, minReconnectionDelay: 100, maxReconnectionDelay: 500, connectionTimeout: 2000 },
  });
  const patient = { first_name: 'Node', last_name: 'Client', admission_date: '2024-06-01T10:00:00Z' };

  const created = await within(5000, client.create('patients', patient), 'create');
  say('create', { data: created });
  say('list', { data: await within(5000, client.list('patients'), 'list') });
  say('retrieve', { data: await within(5000, client.retrieve('patients', created.id), 'retrieve') });
  say('update', { data: await within(5000, client.update('patients', created.id, { ...patient, first_name: 'Upd' }), 'update') });
  say('patch', { data: await within(5000, client.patch('patients', created.id, { last_name: 'Patched' }), 'patch') });
  say('missing', { payload: await within(5000, rejection(client.retrieve('patients', 987654)), 'missing') });
  say('invalid', { payload: await within(5000, rejection(client.create('patients', { first_name: '' })), 'invalid') });

  const events = [];
  let notify = null;
  const subscription = client.subscribe('patients', created.id, (data, action) => {
    events.push({ data, action });
    if (notify) notify();
  });
  say('subscribe', { data: await within(5000, subscription, 'subscribe') });
  const nextEvent = (what) => within(10000, new Promise((resolve) => {
    const count = events.length;
    notify = () => { if (events.length > count) { notify = null; resolve(events[events.length - 1]); } };
  }), what);

  let event = nextEvent('update event');
  await fetch(`${base}/api/patients/${created.id}/`, { method: 'PATCH', headers, body: JSON.stringify({ first_name: 'ViaHTTP' }) });
  say('update-event', await event);

  let reconnected = false;
  client.transport.on('reconnect', () => { reconnected = true; });
  say('await-restart');
  if ((await nextLine()) !== 'stopped') throw new Error('expected "stopped"');
  const queued = client.retrieve('patients', created.id); // queued until the socket is back
  say('queued');
  if ((await nextLine()) !== 'restarted') throw new Error('expected "restarted"');
  say('queued-reply', { data: await within(15000, queued, 'queued retrieve') });
  say('reconnected', { value: reconnected });

  event = nextEvent('update event after reconnect');
  await fetch(`${base}/api/patients/${created.id}/`, { method: 'PATCH', headers, body: JSON.stringify({ first_name: 'AfterRestart' }) });
  say('update-event-after-reconnect', await event);

  event = nextEvent('delete event');
  say('delete', { data: await within(5000, client.delete('patients', created.id), 'delete') });
  say('delete-event', await event);
  client.close();
  say('done');
  process.exit(0);
}

main().catch((err) => { say('error', { message: String(err && err.stack || err) }); process.exit(1); });
