// The observation chart: one column per report (oldest left), one row per value.
import { h } from '../dom.js';
import { DASH, bloodPressure, fmtShort, signed } from '../format.js';
import { phaseBadge } from './common.js';

const plain = (key, label) => ({ key, label });
const ROWS = [
  { group: 'Vital signs' },
  plain('fever', 'Fever (°C)'),
  plain('pulse', 'Pulse (/min)'),
  plain('respirations', 'Respirations (/min)'),
  { key: 'bp', label: 'Blood pressure (mmHg)', get: bloodPressure },
  plain('o2_saturation', 'SpO₂ (%)'),
  { group: 'Fluid intake (ml)' },
  plain('oral_fluids', 'Oral'),
  plain('parenteral_fluids', 'Parenteral'),
  plain('other_fluids', 'Other'),
  plain('intake_8h', 'Intake 8 h'),
  plain('intake_total', 'Intake total'),
  { group: 'Fluid output (ml)' },
  plain('urine_output', 'Urine'),
  plain('uf', 'Ultrafiltration'),
  plain('emesis', 'Emesis'),
  plain('drainage', 'Drainage'),
  plain('output_8h', 'Output 8 h'),
  plain('output_total', 'Output total'),
  { key: 'fluid_balance', label: 'Fluid balance (ml)', get: (r) => signed(r.fluid_balance), negative: (r) => r.fluid_balance < 0 },
  { group: 'Laboratory' },
  plain('hematocrit', 'Hematocrit (%)'),
  plain('platelet_count', 'Platelets (×10³/µL)'),
  plain('wbc_count', 'WBC (×10³/µL)'),
  { group: 'Other findings' },
  plain('pain_score', 'Pain score (0–10)'),
  plain('abdominal_circumference', 'Abdominal circ. (cm)'),
  plain('stools', 'Stools'),
  plain('urine_count', 'Urine count'),
  plain('weight', 'Weight (kg)'),
  plain('height', 'Height (cm)'),
  { key: 'diet', label: 'Diet', text: true },
  { group: 'Assessment' },
  { key: 'status', label: 'Phase', cell: (r) => phaseBadge(r.status) },
  { key: 'monitoring_interval', label: 'Monitoring interval', get: (r) => `every ${r.monitoring_interval} h` },
  { key: 'warning_signs', label: 'Warning signs', text: true },
  { key: 'medical_advice', label: 'Advice', text: true },
  { key: 'additional_info', label: 'Additional info', text: true },
  { key: 'created_by', label: 'Author', getWith: (r, store) => store.userLabel(r.created_by) },
];

export function columnLabel(report) {
  const day = report.day_of_fever != null ? `Day ${report.day_of_fever}` : 'Day ?';
  return `${day} ${report.shift}`;
}

function cellText(row, report, store) {
  if (row.getWith) return row.getWith(report, store);
  if (row.get) return row.get(report);
  const v = report[row.key];
  return v == null || v === '' ? DASH : String(v);
}

export function obsTable(reports, store, actions) {
  if (!reports.length) return h('p', { class: 'empty' }, 'No observation yet. Use “Add observation” to record the first one.');
  const head = h('tr', {},
    h('th', { scope: 'col', class: 'corner' }, 'Observation'),
    reports.map((r) => h('th', { scope: 'col', dataset: { reportId: r.id } },
      h('span', { class: 'col-day' }, columnLabel(r)),
      h('time', { class: 'col-time', datetime: r.time }, fmtShort(r.time)))));
  const body = ROWS.map((row) => {
    if (row.group) {
      return h('tr', { class: 'group' }, h('th', { scope: 'rowgroup' }, row.group), reports.map(() => h('td')));
    }
    return h('tr', { dataset: { row: row.key } },
      h('th', { scope: 'row' }, row.label),
      reports.map((r) => h('td', {
        class: [row.text ? 'text' : '', row.negative?.(r) ? 'neg' : ''].join(' ').trim() || null,
        dataset: { reportId: r.id, field: row.key },
      }, row.cell ? row.cell(r) : cellText(row, r, store))));
  });
  const buttons = h('tr', { class: 'row-actions' },
    h('th', { scope: 'row' }, 'Actions'),
    reports.map((r) => {
      const what = `observation ${columnLabel(r)}, ${fmtShort(r.time)}`;
      return h('td', { dataset: { reportId: r.id } },
        h('div', { class: 'actions actions-center' },
          h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Edit ${what}`, dataset: { key: `edit-${r.id}` }, onclick: () => actions.editReport(r) }, 'Edit'),
          h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `History of ${what}`, dataset: { key: `history-${r.id}` }, onclick: () => actions.showHistory(r) }, 'History'),
          h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Delete ${what}`, dataset: { key: `delete-${r.id}` }, onclick: () => actions.deleteReport(r) }, 'Delete')));
    }));
  return [
    h('p', { class: 'meta', id: 'obs-caption' }, 'One column per observation, oldest on the left; shifts: D day, E evening, N night.'),
    h('div', { class: 'table-wrap', dataset: { scrollKey: 'obs' } },
      h('table', { class: 'obs', 'aria-describedby': 'obs-caption' },
        h('thead', {}, head),
        h('tbody', {}, body, buttons)))];
}
