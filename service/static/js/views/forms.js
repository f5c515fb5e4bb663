// Forms for patients and reports, with the server's validation messages
// (400 bodies are {"field": ["message", ...]}) shown next to their fields.
import { h } from '../dom.js';
import { fromLocalInput, toLocalInput } from '../format.js';
import { openDialog } from './dialog.js';

// kind: text | textarea | int | dec | datetime | select
export const PATIENT_FIELDS = [
  { legend: 'Patient', fields: [
    { name: 'first_name', label: 'First name', kind: 'text', required: true },
    { name: 'last_name', label: 'Last name', kind: 'text', required: true },
    { name: 'admission_date', label: 'Admitted', kind: 'datetime', required: true },
    { name: 'dismissal_date', label: 'Dismissed', kind: 'datetime' },
  ] },
];

const int = (name, label, unit) => ({ name, label, unit, kind: 'int' });
const dec = (name, label, unit, step = '0.01') => ({ name, label, unit, kind: 'dec', step });

export const REPORT_FIELDS = [
  { legend: 'Observation', fields: [
    { name: 'time', label: 'Time of observation', kind: 'datetime', required: true },
    int('day_of_fever', 'Day of fever'),
    { name: 'status', label: 'Phase', kind: 'select', options: ['febrile', 'critical', 'recovery'] },
    { ...int('monitoring_interval', 'Observe again in', 'h'), required: true },
  ] },
  { legend: 'Vital signs', fields: [
    dec('fever', 'Fever', '°C', '0.1'),
    int('pulse', 'Pulse', '/min'),
    int('respirations', 'Respirations', '/min'),
    int('bp_systolic', 'BP systolic', 'mmHg'),
    int('bp_diastolic', 'BP diastolic', 'mmHg'),
    int('o2_saturation', 'SpO₂', '%'),
  ] },
  { legend: 'Fluid intake', fields: [
    int('oral_fluids', 'Oral', 'ml'),
    int('parenteral_fluids', 'Parenteral', 'ml'),
    int('other_fluids', 'Other', 'ml'),
    int('intake_8h', 'Intake 8 h', 'ml'),
  ] },
  { legend: 'Fluid output', fields: [
    int('urine_output', 'Urine', 'ml'),
    int('uf', 'Ultrafiltration', 'ml'),
    int('emesis', 'Emesis', 'ml'),
    int('drainage', 'Drainage', 'ml'),
    int('output_8h', 'Output 8 h', 'ml'),
  ] },
  { legend: 'Laboratory', fields: [
    int('hematocrit', 'Hematocrit', '%'),
    int('platelet_count', 'Platelets', '×10³/µL'),
    dec('wbc_count', 'WBC', '×10³/µL'),
  ] },
  { legend: 'Other findings', fields: [
    int('pain_score', 'Pain score', '0–10'),
    int('abdominal_circumference', 'Abdominal circ.', 'cm'),
    int('stools', 'Stools'),
    int('urine_count', 'Urine count'),
    dec('weight', 'Weight', 'kg'),
    int('height', 'Height', 'cm'),
    { name: 'diet', label: 'Diet', kind: 'text' },
  ] },
  { legend: 'Notes', fields: [
    { name: 'warning_signs', label: 'Warning signs', kind: 'textarea', wide: true },
    { name: 'medical_advice', label: 'Medical advice', kind: 'textarea', wide: true },
    { name: 'additional_info', label: 'Additional information', kind: 'textarea', wide: true },
  ] },
];

let formCounter = 0;

function control(field, id, value) {
  const common = { id, name: field.name, 'aria-describedby': `${id}-err` };
  switch (field.kind) {
    case 'textarea':
      return h('textarea', { ...common, rows: 2, value: value ?? '' });
    case 'select':
      return h('select', common, field.options.map((o) => h('option', { value: o, selected: o === value }, o)));
    case 'datetime':
      return h('input', { ...common, type: 'datetime-local', value: value ? toLocalInput(value) : '' });
    case 'int':
      return h('input', { ...common, type: 'number', inputmode: 'numeric', step: '1', value: value ?? '' });
    case 'dec':
      return h('input', { ...common, type: 'number', inputmode: 'decimal', step: field.step, value: value ?? '' });
    default:
      return h('input', { ...common, type: 'text', value: value ?? '' });
  }
}

/**
 * A form for the field groups, filled with values. Validation is the
 * server's (novalidate): its messages appear under each field.
 */
export function buildForm(groups, values = {}) {
  const prefix = `f${++formCounter}`;
  const inputs = new Map();
  const errorSlots = new Map();
  const formError = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { novalidate: true },
    formError,
    groups.map((group) => h('fieldset', {},
      h('legend', {}, group.legend),
      h('div', { class: 'form-grid' }, group.fields.map((field) => {
        const id = `${prefix}-${field.name}`;
        const input = control(field, id, values[field.name]);
        const error = h('p', { class: 'field-error', id: `${id}-err`, dataset: { errorFor: field.name }, hidden: true });
        // datetime-local has minute precision: an untouched value is sent back exactly as it came
        inputs.set(field.name, { field, input, initial: { raw: input.value, value: values[field.name] } });
        errorSlots.set(field.name, error);
        return h('div', { class: `field${field.wide ? ' wide' : ''} field-${field.kind}` },
          h('label', { for: id }, field.label, field.unit ? h('span', { class: 'unit' }, ` (${field.unit})`) : null),
          input, error);
      })),
    )),
  );

  function clearErrors() {
    formError.hidden = true;
    formError.replaceChildren();
    for (const [name, slot] of errorSlots) {
      slot.hidden = true;
      slot.textContent = '';
      inputs.get(name).input.removeAttribute('aria-invalid');
    }
  }

  /** errors: {"field": ["msg"]}; unknown keys (non_field_errors, ...) go on top. */
  function showErrors(errors) {
    clearErrors();
    const general = [];
    let first = null;
    for (const [name, messages] of Object.entries(errors)) {
      const text = (Array.isArray(messages) ? messages : [messages]).join(' ');
      const slot = errorSlots.get(name);
      if (slot) {
        slot.textContent = text;
        slot.hidden = false;
        const { input } = inputs.get(name);
        input.setAttribute('aria-invalid', 'true');
        first ??= input;
      } else {
        general.push(name === 'non_field_errors' ? text : `${name}: ${text}`);
      }
    }
    if (general.length) showFormError(general.join(' '));
    (first ?? formError).focus?.();
  }

  function showFormError(text) {
    formError.textContent = text;
    formError.hidden = false;
  }

  /** Read the values; local problems (a number that is not one) are returned as errors. */
  function read() {
    const data = {};
    const local = {};
    for (const [name, { field, input, initial }] of inputs) {
      const raw = input.value.trim();
      if (field.kind === 'int' || field.kind === 'dec') {
        if (input.validity.badInput) local[name] = ['Enter a number.'];
        else if (raw === '') data[name] = null;
        else data[name] = field.kind === 'int' ? Number(raw) : raw; // decimals travel as text, as DRF does
      } else if (field.kind === 'datetime') {
        if (raw !== '' && raw === initial.raw && initial.value) data[name] = initial.value;
        else if (raw !== '' || !field.required) data[name] = fromLocalInput(raw); // omitted: "required"
      } else if (field.kind === 'textarea') {
        data[name] = input.value;
      } else {
        data[name] = raw;
      }
    }
    return { data, errors: Object.keys(local).length ? local : null };
  }

  return { form, read, showErrors, showFormError, clearErrors, inputs };
}

/**
 * A form in a dialog. save(data) performs the request: a 400 shows the field
 * messages, any other error shows on top; on success the dialog closes.
 */
export function formDialog({ title, groups, values, submitLabel = 'Save', prepare = (d) => d, save, onSaved }) {
  const ui = buildForm(groups, values);
  const submit = h('button', { type: 'submit', class: 'btn' }, submitLabel);
  const formId = `form-${formCounter}`;
  ui.form.id = formId;
  submit.setAttribute('form', formId);
  const { close } = openDialog({
    title,
    body: ui.form,
    footer: [h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => close() }, 'Cancel'), submit],
  });
  ui.form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const { data, errors } = ui.read();
    if (errors) {
      ui.showErrors(errors);
      return;
    }
    submit.disabled = true;
    try {
      const saved = await save(prepare(data));
      close();
      onSaved?.(saved);
    } catch (error) {
      if (error.fieldErrors) ui.showErrors(error.fieldErrors);
      else ui.showFormError(error.message);
    } finally {
      submit.disabled = false;
    }
  });
  ui.form.querySelector('input, select, textarea')?.focus();
  return { ...ui, close };
}
