// The patient view: header, observation chart, charts, open notifications.
import { h } from '../dom.js';
import { fmtDateTime, fullName, signed } from '../format.js';
import { fluidChart, tempPulseChart } from './charts.js';
import { countdown, notificationList, phaseBadge } from './common.js';
import { obsTable } from './obs-table.js';

export function renderPatient(root, patientId, { store, actions }) {
  const patient = store.patients.get(patientId);
  if (!patient) {
    document.title = 'Patient not found — Dengue Ward';
    root.replaceChildren(
      h('a', { class: 'back', href: '#/' }, '← Ward overview'),
      h('p', { class: 'empty', role: 'status' }, 'This patient does not exist (any more).'));
    return;
  }
  document.title = `${fullName(patient)} — Dengue Ward`;
  const reports = store.reportsOf(patientId);
  const latest = reports[reports.length - 1] ?? null;
  const balance = store.fluidBalance24h(patientId);
  const notes = notificationList(store.notificationsOf(patientId), actions);
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
            ' · next observation ', countdown(store.nextDue(patientId)))),
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
      h('h2', { id: 'obs-title' }, 'Observation chart'),
      obsTable(reports, store, actions)),
  );
}
