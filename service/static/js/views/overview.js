// The ward overview: one card per admitted patient.
import { h } from '../dom.js';
import { bloodPressure, fmtShort, fmtWhen, fullName, signed, value } from '../format.js';
import { countdown, notificationList, phaseBadge } from './common.js';

function vital(label, text) {
  return h('div', {}, h('dt', {}, label), h('dd', {}, text));
}

function card(patient, store, actions) {
  const latest = store.latestReport(patient.id);
  const balance = store.fluidBalance24h(patient.id);
  const titleId = `patient-${patient.id}-name`;
  return h('article', {
    class: 'card', 'aria-labelledby': titleId,
    dataset: { patientId: patient.id, phase: latest?.status || 'none' },
  },
    h('div', { class: 'card-head' },
      h('h2', { id: titleId }, h('a', { href: `#/patients/${patient.id}`, dataset: { key: `open-${patient.id}` } }, fullName(patient))),
      phaseBadge(latest?.status)),
    h('div', { class: 'meta' },
      h('span', { dataset: { field: 'day' } }, latest?.day_of_fever != null ? `Day ${latest.day_of_fever} of illness` : 'Day of illness unknown'),
      ` · admitted ${fmtShort(patient.admission_date)}`),
    latest
      ? h('dl', { class: 'vitals', 'aria-label': `Last vital signs, ${fmtShort(latest.time)}` },
        vital('Fever', value(latest.fever, '°C')),
        vital('Pulse', value(latest.pulse, '/min')),
        vital('BP', bloodPressure(latest)),
        vital('Resp.', value(latest.respirations, '/min')),
        vital('SpO₂', value(latest.o2_saturation, '%')),
        vital('Observed', fmtWhen(latest.time)))
      : h('p', { class: 'meta' }, 'No observation recorded yet.'),
    h('div', { class: 'stat-row' },
      h('span', {}, 'Fluid balance, last 24 h'),
      h('strong', {
        class: balance.sum < 0 ? 'balance-neg' : 'balance-pos', dataset: { field: 'balance24' },
        title: `${balance.count} report(s) in the last 24 h`,
      }, balance.count ? signed(balance.sum, 'ml') : '—')),
    h('div', { class: 'stat-row' }, h('span', {}, 'Next observation'), countdown(store.nextDue(patient.id))),
    notificationList(store.notificationsOf(patient.id), actions, { limit: 3, moreHref: `#/patients/${patient.id}` }),
    h('div', { class: 'actions' },
      h('a', { class: 'btn btn-quiet btn-small', href: `#/patients/${patient.id}` }, 'Open chart'),
      h('button', {
        type: 'button', class: 'btn btn-small', dataset: { key: `add-report-${patient.id}` },
        onclick: () => actions.addReport(patient.id),
      }, 'Add observation')),
  );
}

let dismissedOpen = false;

export function renderOverview(root, { store, actions }) {
  document.title = 'Ward overview — Dengue Ward';
  const admitted = store.admitted();
  const dismissed = store.dismissed();
  root.replaceChildren(
    h('div', { class: 'page-head' },
      h('h1', {}, 'Ward overview ', h('span', { class: 'meta' }, `${admitted.length} admitted`)),
      h('button', { type: 'button', class: 'btn', dataset: { key: 'add-patient' }, onclick: actions.addPatient }, 'Add patient')),
    admitted.length
      ? h('div', { class: 'cards' }, admitted.map((p) => card(p, store, actions)))
      : h('p', { class: 'empty' }, 'No patient is admitted. Use “Add patient” to admit one.'),
    dismissed.length
      ? h('details', { class: 'dismissed', open: dismissedOpen, ontoggle: (e) => { dismissedOpen = e.currentTarget.open; } },
        h('summary', {}, `Dismissed patients (${dismissed.length})`),
        h('ul', {}, dismissed.map((p) => h('li', {},
          h('a', { href: `#/patients/${p.id}` }, fullName(p)), ` — dismissed ${fmtShort(p.dismissal_date)}`))))
      : null,
  );
}
