// What the user can do: each opens a form or asks for confirmation, then
// calls the REST API. The resulting change reaches this page (and every
// other screen) as a live broadcast; the REST reply is applied at once too,
// unless the page already holds a newer version of the object.
//
// Every write is one user action with its own Idempotency-Key (api.js
// retries it with that key); an edit form reads the record's ETag when it
// opens and sends it as If-Match, so that a change made meanwhile by
// someone else is shown beside the user's input (412) instead of being
// overwritten unseen.
import * as api from './api.js';
import { confirmDialog } from './views/dialog.js';
import { REPORT_FIELDS, formDialog, patientFields } from './views/forms.js';
import { deletedReportsDialog, historyDialog } from './views/history.js';
import { fullName } from './format.js';

const REPORT_KEYS = REPORT_FIELDS.flatMap((g) => g.fields).map((f) => f.name);

export function createActions({ store, showError }) {
  function applyOwn(stream, obj) {
    store.apply(stream, { action: 'update', data: obj }, false);
  }

  function reportValues(report) {
    return Object.fromEntries(REPORT_KEYS.map((k) => [k, report[k]]));
  }

  /** The wards a patient may be put in: the user's (the ward shown first). */
  function wardChoices() {
    return store.wards.length ? store.wards : [{ id: store.ward, name: store.wardName(store.ward) }];
  }

  return {
    addPatient() {
      formDialog({
        title: 'Add a patient',
        groups: patientFields(wardChoices()),
        values: { admission_date: new Date().toISOString(), ward: store.ward },
        submitLabel: 'Add patient',
        save: (data, { key }) => api.createPatient(data, { key, label: 'Adding the patient' }),
        onSaved: (patient) => applyOwn('patients', patient),
      });
    },

    editPatient(patient) {
      formDialog({
        title: `Edit ${fullName(patient)}`,
        groups: patientFields(wardChoices()),
        values: patient,
        load: async () => {
          const { data, etag } = await api.getPatient(patient.id);
          return { values: data, etag };
        },
        save: async (data, { key, etag }) =>
          (await api.updatePatient(patient.id, data, { key, ifMatch: etag, label: 'Saving the patient' })).data,
        onSaved: (saved) => applyOwn('patients', saved),
      });
    },

    async deletePatient(patient) {
      const ok = await confirmDialog(
        `Delete ${fullName(patient)} and all their observations? The observations stay in the audit history.`,
        { confirmLabel: 'Delete patient' });
      if (!ok) return;
      try {
        await api.deletePatient(patient.id, { label: 'Deleting the patient' });
        store.apply('patients', { action: 'delete', data: { id: patient.id, pk: patient.id } }, false);
        location.hash = '#/';
      } catch (error) {
        showError(`The patient could not be deleted: ${error.message}`);
      }
    },

    addReport(patientId) {
      const latest = store.latestReport(patientId);
      formDialog({
        title: `New observation — ${fullName(store.patients.get(patientId))}`,
        groups: REPORT_FIELDS,
        values: {
          time: new Date().toISOString(),
          day_of_fever: latest?.day_of_fever ?? null,
          status: latest?.status ?? 'febrile',
          monitoring_interval: latest?.monitoring_interval ?? 4,
        },
        submitLabel: 'Save observation',
        prepare: (data) => ({ ...data, patient: patientId }),
        save: (data, { key }) => api.createReport(data, { key, label: 'Saving the observation' }),
        onSaved: (report) => applyOwn('reports', report),
      });
    },

    editReport(report) {
      formDialog({
        title: 'Edit observation',
        groups: REPORT_FIELDS,
        values: reportValues(report),
        load: async () => {
          const { data, etag } = await api.getReport(report.id);
          return { values: reportValues(data), etag };
        },
        prepare: (data) => ({ ...data, patient: report.patient }),
        save: async (data, { key, etag }) =>
          (await api.updateReport(report.id, data, { key, ifMatch: etag, label: 'Saving the observation' })).data,
        onSaved: (saved) => applyOwn('reports', saved),
      });
    },

    async deleteReport(report) {
      const ok = await confirmDialog(
        'Delete this observation? It stays in the audit history and can be restored from “Deleted observations”.',
        { confirmLabel: 'Delete observation' });
      if (!ok) return;
      try {
        await api.deleteReport(report.id, { label: 'Deleting the observation' });
        store.apply('reports', { action: 'delete', data: { id: report.id, pk: report.id, patient: report.patient } }, false);
      } catch (error) {
        showError(`The observation could not be deleted: ${error.message}`);
      }
    },

    showHistory(report) {
      historyDialog(report, { store });
    },

    showDeleted(patient) {
      deletedReportsDialog(patient, { store });
    },

    /** Resolves true when acknowledged (the broadcast clears it everywhere). */
    async acknowledge(notification) {
      try {
        const saved = await api.acknowledgeNotification(notification.id, { label: 'Acknowledging' });
        store.apply('notifications', { action: 'update', data: saved }, false);
        return true;
      } catch (error) {
        showError(`The notification could not be acknowledged: ${error.message}`);
        return false;
      }
    },
  };
}
