// What the user can do: each opens a form or asks for confirmation, then
// calls the REST API. The resulting change reaches this page (and every
// other screen) as a live broadcast; the REST reply is applied at once too,
// unless the page already holds a newer version of the object.
import * as api from './api.js';
import { confirmDialog } from './views/dialog.js';
import { PATIENT_FIELDS, REPORT_FIELDS, formDialog } from './views/forms.js';
import { deletedReportsDialog, historyDialog } from './views/history.js';
import { fullName } from './format.js';

const REPORT_KEYS = REPORT_FIELDS.flatMap((g) => g.fields).map((f) => f.name);

export function createActions({ store, showError }) {
  function applyOwn(stream, obj) {
    const known = stream === 'patients' ? store.patients.get(obj.id) : store.reports.get(obj.id);
    if (known && new Date(known.updated_at) > new Date(obj.updated_at)) return;
    store.apply(stream, { action: known ? 'update' : 'create', data: obj }, false);
  }

  function reportValues(report) {
    return Object.fromEntries(REPORT_KEYS.map((k) => [k, report[k]]));
  }

  return {
    addPatient() {
      formDialog({
        title: 'Add a patient',
        groups: PATIENT_FIELDS,
        values: { admission_date: new Date().toISOString() },
        submitLabel: 'Add patient',
        save: (data) => api.createPatient(data),
        onSaved: (patient) => applyOwn('patients', patient),
      });
    },

    editPatient(patient) {
      formDialog({
        title: `Edit ${fullName(patient)}`,
        groups: PATIENT_FIELDS,
        values: patient,
        save: (data) => api.updatePatient(patient.id, data),
        onSaved: (saved) => applyOwn('patients', saved),
      });
    },

    async deletePatient(patient) {
      const count = store.reportsOf(patient.id).length;
      const ok = await confirmDialog(
        `Delete ${fullName(patient)} and their ${count} observation(s)? The observations stay in the audit history.`,
        { confirmLabel: 'Delete patient' });
      if (!ok) return;
      try {
        await api.deletePatient(patient.id);
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
        save: (data) => api.createReport(data),
        onSaved: (report) => applyOwn('reports', report),
      });
    },

    editReport(report) {
      formDialog({
        title: 'Edit observation',
        groups: REPORT_FIELDS,
        values: reportValues(report),
        prepare: (data) => ({ ...data, patient: report.patient }),
        save: (data) => api.updateReport(report.id, data),
        onSaved: (saved) => applyOwn('reports', saved),
      });
    },

    async deleteReport(report) {
      const ok = await confirmDialog(
        'Delete this observation? It stays in the audit history and can be restored from “Deleted observations”.',
        { confirmLabel: 'Delete observation' });
      if (!ok) return;
      try {
        await api.deleteReport(report.id);
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
        const saved = await api.acknowledgeNotification(notification.id);
        store.apply('notifications', { action: 'update', data: saved }, false);
        return true;
      } catch (error) {
        showError(`The notification could not be acknowledged: ${error.message}`);
        return false;
      }
    },
  };
}
