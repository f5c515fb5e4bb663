// The patient view: header, observation chart, charts, open notifications.
// The chart reads the patient's reports page by page, newest first
// ("Older observations" asks for the next page). The view is redrawn only
// when something of this patient (or the minute) changed.
import { h } from '../dom.js';
import { fmtDateTime, fullName, signed } from '../format.js';
import { fluidChart, tempPulseChart } from './charts.js';
import { countdown, notificationList, phaseBadge } from './common.js';
import { obsTable } from './obs-table.js';

let drawn = null; // {root, key} of the view on screen

function notHere(root, patientId, { store, retryLookup, setWard, lookup }) {
  const found = lookup(patientId);
  const back = h('a', { class: 'back', href: '#/' }, '← Ward overview');
  let body;
  switch (found.state) {
    case 'loading':
      document.title = 'Patient — Dengue Ward';
      body = h('p', { class: 'loading', role: 'status' }, 'Loading the patient…');
      break;
    case 'elsewhere':
      document.title = 'Patient in another ward — Dengue Ward';
      body = h('div', { class: 'panel', role: 'status' },
        h('p', {}, `This patient is in ${store.wardName(found.ward)}.`),
        store.wards.some((w) => w.id === found.ward)
          ? h('button', { type: 'button', class: 'btn', onclick: () => setWard(found.ward, { stay: true }) }, `Show ${store.wardName(found.ward)}`)
          : null);
      break;
    case 'error':
      document.title = 'Patient — Dengue Ward';
      body = h('div', {},
        h('p', { class: 'form-error', role: 'alert' }, `The patient could not be loaded: ${found.message}`),
        h('button', { type: 'button', class: 'btn', onclick: () => retryLookup(patientId) }, 'Try again'));
      break;
    default:
      document.title = 'Patient not found — Dengue Ward';
      body = h('p', { class: 'empty', role: 'status' }, 'This patient does not exist (any more).');
  }
  root.dataset.view = `patient-missing:${patientId}`;
  drawn = null;
  root.replaceChildren(back, body);
}

function olderControl(patientId, pages, count, loadOlder) {
  let control = null;
  if (!pages || (pages.loading && !pages.first)) {
    control = h('span', { class: 'loading meta', role: 'status' }, 'Loading observations…');
  } else if (pages.loading) {
    control = h('span', { class: 'meta', role: 'status' }, 'Loading older observations…');
  } else if (pages.error) {
    control = h('span', { class: 'actions' },
      h('span', { class: 'form-error', role: 'alert' }, `Observations could not be loaded: ${pages.error}`),
      h('button', { type: 'button', class: 'btn btn-quiet btn-small', onclick: () => loadOlder(patientId) }, 'Try again'));
  } else if (pages.next) {
    control = h('button', {
      type: 'button', class: 'btn btn-quiet btn-small', dataset: { key: 'older' },
      onclick: () => loadOlder(patientId),
    }, 'Older observations');
  }
  const plural = `observation${count === 1 ? '' : 's'}`;
  const done = pages?.first && !pages.next && !pages.loading && !pages.error;
  return h('div', { class: 'actions obs-paging', dataset: { count, allShown: String(Boolean(done)) } },
    h('span', { class: 'meta' }, done ? `All ${count} ${plural} shown` : `Newest ${count} ${plural} shown`), control);
}

export function renderPatient(root, patientId, views) {
  const { store, actions, loadOlder, epoch } = views;
  const patient = store.patients.get(patientId);
  if (!patient) {
    notHere(root, patientId, views);
    return;
  }
  if (!store.pages.has(patientId)) loadOlder(patientId); // the newest page; touches the patient's version
  const key = `${patientId}:${store.patientVersion(patientId)}:${epoch}:${store.wards.length}`;
  if (drawn && drawn.root === root && drawn.key === key && root.dataset.view === `patient:${patientId}`) return;
  drawn = { root, key };
  root.dataset.view = `patient:${patientId}`;

  document.title = `${fullName(patient)} — Dengue Ward`;
  const reports = store.reportsOf(patientId);
  const latest = reports[reports.length - 1] ?? null;
  const balance = store.fluidBalance24h(patientId);
  const notes = notificationList(store.notificationsOf(patientId), actions);
  const pages = store.pages.get(patientId);
  root.replaceChildren(
    h('a', { class: 'back', href: '#/' }, '← Ward overview'),
    h('section', { class: 'panel', 'aria-labelledby': 'patient-name', dataset: { patientId } },
      h('div', { class: 'page-head' },
        h('div', {},
          h('h1', { id: 'patient-name' }, fullName(patient), ' ', phaseBadge(latest?.status)),
          h('p', { class: 'meta' },
            `Admitted ${fmtDateTime(patient.admission_date)}`,
            patient.dismissal_date ? ` · dismissed ${fmtDateTime(patient.dismissal_date)}` : '',
            latest?.day_of_fever != null ? ` · day ${latest.day_of_fever} of illness` : '',
            ` · fluid balance 24 h: ${balance.count ? signed(balance.sum, 'ml') : '—'}`,
            patient.dismissal_date ? '' : ' · next observation ',
            patient.dismissal_date ? null : countdown(store.nextDue(patientId)))),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn', dataset: { key: 'add-report' }, onclick: () => actions.addReport(patientId) }, 'Add observation'),
          h('button', { type: 'button', class: 'btn btn-quiet', dataset: { key: 'edit-patient' }, onclick: () => actions.editPatient(patient) }, 'Edit patient'),
          h('button', { type: 'button', class: 'btn btn-quiet', dataset: { key: 'deleted-reports' }, onclick: () => actions.showDeleted(patient) }, 'Deleted observations'),
          h('button', { type: 'button', class: 'btn btn-danger', dataset: { key: 'delete-patient' }, onclick: () => actions.deletePatient(patient) }, 'Delete patient'))),
      notes),
    h('div', { class: 'charts' },
      h('section', { class: 'panel' }, tempPulseChart(reports)),
      h('section', { class: 'panel' }, fluidChart(reports))),
    h('section', { class: 'panel', 'aria-labelledby': 'obs-title' },
      h('div', { class: 'page-head' },
        h('h2', { id: 'obs-title' }, 'Observation chart'),
        olderControl(patientId, pages, reports.length, loadOlder)),
      obsTable(reports, store, actions)),
  );
}
