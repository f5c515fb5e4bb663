// Pieces shared by the overview and the patient view.
import { h } from '../dom.js';
import { duration, fmtShort, fmtWhen } from '../format.js';

export function phaseBadge(status) {
  return h('span', { class: `badge phase-${status || 'none'}`, dataset: { field: 'phase' } }, status || 'no report');
}

/** The live countdown; tickCountdowns() refreshes its text every second. */
export function countdown(due) {
  if (!due) return h('span', { class: 'due', dataset: { field: 'due' } }, 'no observation yet');
  const el = h('span', { class: 'due', dataset: { field: 'due', due: due.toISOString() }, title: `Due ${fmtShort(due.toISOString())}` });
  updateCountdown(el, Date.now());
  return el;
}

function updateCountdown(el, now) {
  const left = new Date(el.dataset.due).getTime() - now;
  const overdue = left < 0;
  el.dataset.overdue = String(overdue);
  el.textContent = overdue ? `overdue by ${duration(left)}` : `in ${duration(left)}`;
}

export function tickCountdowns(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('[data-due]')) updateCountdown(el, now);
}

const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };

/**
 * The unacknowledged notifications of a patient, most severe first, each
 * with Acknowledge; `limit` shortens the list (the rest is counted).
 */
export function notificationList(notifications, actions, { limit = Infinity, moreHref = null } = {}) {
  if (!notifications.length) return null;
  const sorted = [...notifications].sort((a, b) =>
    (SEVERITY_ORDER[a.severity] ?? 3) - (SEVERITY_ORDER[b.severity] ?? 3) || new Date(b.created_at) - new Date(a.created_at));
  const shown = sorted.slice(0, limit);
  const hidden = sorted.length - shown.length;
  const ackButton = (label, list, key, aria) => h('button', {
    type: 'button', class: 'btn btn-quiet btn-small', dataset: { key }, 'aria-label': aria,
    onclick: async (e) => {
      const button = e.currentTarget;
      button.disabled = true;
      const results = await Promise.all(list.map((n) => actions.acknowledge(n)));
      if (results.some((ok) => !ok)) button.disabled = false;
    },
  }, label);
  return h('div', { class: 'notes-box' },
    h('ul', { class: 'notes', 'aria-label': `Unacknowledged notifications (${notifications.length})` }, shown.map((n) =>
      h('li', { class: `note sev-${n.severity || 'info'}`, dataset: { notificationId: n.id, severity: n.severity } },
        h('p', {}, h('strong', {}, `${n.severity}: `), n.message, h('span', { class: 'meta' }, ` · ${fmtWhen(n.created_at)}`)),
        ackButton('Acknowledge', [n], `ack-${n.id}`, null)))),
    hidden || notifications.length > 1
      ? h('div', { class: 'actions notes-more' },
        hidden ? (moreHref ? h('a', { href: moreHref }, `+${hidden} more`) : h('span', { class: 'meta' }, `+${hidden} more`)) : null,
        notifications.length > 1
          ? ackButton(`Acknowledge all ${notifications.length}`, notifications, `ack-all-${notifications[0].patient}`, null)
          : null)
      : null);
}
