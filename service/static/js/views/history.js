// The audit trail of a report (GET /api/history/?report=ID) with Restore,
// and the deleted observations of a patient, which can be restored too.
import * as api from '../api.js';
import { h } from '../dom.js';
import { DASH, fmtDateTime, fmtShort } from '../format.js';
import { openDialog } from './dialog.js';
import { REPORT_FIELDS } from './forms.js';

const TYPES = { '+': 'Created', '~': 'Changed', '-': 'Deleted' };
const LABELS = Object.fromEntries(REPORT_FIELDS.flatMap((g) => g.fields).map((f) => [f.name, f.label]));
const COMPARED = ['patient', ...Object.keys(LABELS)];

function show(v, name) {
  if (v == null || v === '') return DASH;
  return name === 'time' ? fmtShort(v) : String(v);
}

function changes(row, older) {
  if (!older || row.history_type === '-') return null;
  const items = COMPARED.filter((k) => String(row[k] ?? '') !== String(older[k] ?? '')).map((k) =>
    h('li', { dataset: { field: k } }, `${LABELS[k] ?? k}: `, h('del', {}, show(older[k], k)), ' → ', h('ins', {}, show(row[k], k))));
  return items.length ? h('ul', { class: 'changes' }, items) : h('p', { class: 'meta' }, 'No value changed.');
}

/** Load a history list into `list`, refreshing on every history broadcast that matches. */
function liveHistory({ store, filter, matches, renderRows, container }) {
  let pending = null;
  async function load() {
    try {
      renderRows(await api.listHistory(filter));
    } catch (error) {
      container.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, error.message));
    }
  }
  const onChange = (event) => {
    const { stream, data } = event.detail;
    if ((stream === 'history' && matches(data)) || stream === '*') {
      clearTimeout(pending);
      pending = setTimeout(load, 50);
    }
  };
  store.addEventListener('change', onChange);
  load();
  return { load, stop: () => { clearTimeout(pending); store.removeEventListener('change', onChange); } };
}

async function restore(row, button, status) {
  button.disabled = true;
  status.textContent = '';
  try {
    await api.restoreHistory(row.history_id);
    status.textContent = `Version ${row.history_id} restored.`;
    return true;
  } catch (error) {
    status.textContent = error.message;
    button.disabled = false;
    return false;
  }
}

export function historyDialog(report, { store }) {
  const list = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  const status = h('p', { role: 'status', class: 'meta' });
  let watcher;
  openDialog({
    title: `History of the observation of ${fmtShort(report.time)}`,
    body: [status, list],
    onClose: () => watcher?.stop(),
  });
  watcher = liveHistory({
    store, container: list,
    filter: { report: report.id },
    matches: (data) => data.id === report.id,
    renderRows: (rows) => {
      list.replaceChildren(h('ol', { class: 'history', reversed: true }, rows.map((row, i) => {
        const current = i === 0 && row.history_type !== '-';
        const button = current ? null : h('button', { type: 'button', class: 'btn btn-small' },
          row.history_type === '-' ? 'Restore (undo delete)' : 'Restore this version');
        button?.addEventListener('click', () => restore(row, button, status));
        return h('li', { dataset: { historyId: row.history_id, historyType: row.history_type } },
          h('div', { class: 'hrow' },
            h('span', {},
              h('span', { class: 'htype' }, TYPES[row.history_type] ?? row.history_type),
              ` ${fmtDateTime(row.history_date)} by ${store.userLabel(row.history_user)}`,
              row.history_change_reason ? h('span', { class: 'meta' }, ` — ${row.history_change_reason}`) : null,
              current ? h('span', { class: 'meta' }, ' (current)') : null),
            button),
          changes(row, rows[i + 1]));
      })));
    },
  });
}

export function deletedReportsDialog(patient, { store }) {
  const list = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  const status = h('p', { role: 'status', class: 'meta' });
  let watcher;
  openDialog({
    title: `Deleted observations of ${patient.first_name} ${patient.last_name}`,
    body: [status, list],
    onClose: () => watcher?.stop(),
  });
  watcher = liveHistory({
    store, container: list,
    filter: { patient: patient.id },
    matches: (data) => data.patient === patient.id,
    renderRows: (rows) => {
      const newest = new Map(); // report id -> its newest history row (rows come newest first)
      for (const row of rows) if (!newest.has(row.id)) newest.set(row.id, row);
      const deleted = [...newest.values()].filter((row) => row.history_type === '-');
      if (!deleted.length) {
        list.replaceChildren(h('p', { class: 'empty' }, 'No deleted observation.'));
        return;
      }
      list.replaceChildren(h('ul', { class: 'history' }, deleted.map((row) => {
        const button = h('button', { type: 'button', class: 'btn btn-small' }, 'Restore');
        button.addEventListener('click', () => restore(row, button, status));
        return h('li', { dataset: { historyId: row.history_id, reportId: row.id } },
          h('div', { class: 'hrow' },
            h('span', {}, `Observation of ${fmtShort(row.time)}`,
              row.day_of_fever != null ? ` (day ${row.day_of_fever})` : '',
              h('span', { class: 'meta' }, ` — deleted ${fmtDateTime(row.history_date)} by ${store.userLabel(row.history_user)}`)),
            button));
      })));
    },
  });
}
