// Toasts for live notifications: message, patient, severity colour.
// A toast stays until acknowledged (here or on any other screen) or
// dismissed; non-critical ones also fade after a while.
import { h } from '../dom.js';
import { fmtTime, fullName } from '../format.js';

const MAX_TOASTS = 5;
const NON_CRITICAL_MS = 30000;

export class Toasts {
  constructor(container, { store, onAcknowledge }) {
    this.container = container;
    this.store = store;
    this.onAcknowledge = onAcknowledge;
    this.items = new Map(); // notification id -> element
  }

  show(notification) {
    if (this.items.has(notification.id)) return;
    const patient = this.store.patients.get(notification.patient);
    const severity = notification.severity || 'info';
    const titleId = `toast-${notification.id}-title`;
    const remove = () => this.remove(notification.id);
    const ack = h('button', { type: 'button', class: 'btn btn-small' }, 'Acknowledge');
    ack.addEventListener('click', async () => {
      ack.disabled = true;
      const ok = await this.onAcknowledge(notification);
      if (ok) remove();
      else ack.disabled = false;
    });
    const el = h('div', {
      class: `toast sev-${severity}`,
      role: severity === 'critical' ? 'alert' : 'status',
      'aria-labelledby': titleId,
      dataset: { notificationId: notification.id, severity },
    },
      h('h3', { id: titleId },
        h('span', { class: 'badge' }, severity), ' ',
        h('a', { href: `#/patients/${notification.patient}` }, patient ? fullName(patient) : `Patient #${notification.patient}`),
        h('span', { class: 'meta' }, ` · ${fmtTime(notification.created_at)}`)),
      h('p', {}, notification.message),
      h('div', { class: 'actions' },
        ack,
        h('button', { type: 'button', class: 'btn btn-quiet btn-small', onclick: remove }, 'Dismiss')),
    );
    this.items.set(notification.id, el);
    this.container.prepend(el);
    while (this.items.size > MAX_TOASTS) this.remove(this.items.keys().next().value);
    if (severity !== 'critical') setTimeout(remove, NON_CRITICAL_MS);
  }

  remove(id) {
    const el = this.items.get(id);
    if (!el) return;
    el.remove();
    this.items.delete(id);
  }

  /** Drop toasts of notifications no longer open (acknowledged anywhere, patient deleted). */
  sync() {
    for (const id of [...this.items.keys()]) if (!this.store.notifications.has(id)) this.remove(id);
  }

  clear() {
    for (const id of [...this.items.keys()]) this.remove(id);
  }
}
