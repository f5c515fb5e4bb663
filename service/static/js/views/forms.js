// Forms with the server's validation messages (400 bodies are
// {"field": ["message", ...]}) shown next to their fields, and, when the
// record changed on the server since the form was opened (412), the
// current version shown beside the user's input, which is kept.
import { ApiError, newKey } from '../api.js';
import { h } from '../dom.js';
import { fmtDateTime, fromLocalInput, toLocalInput } from '../format.js';
import { openDialog } from './dialog.js';

// kind: text | password | textarea | int | dec | datetime | select | checkbox | checkboxes
// select and checkboxes take options: strings, or {value, label}; numeric: true reads numbers.

/** The patient form; `wards` are the wards the patient may be put in. */
export function patientFields(wards) {
  return [
    { legend: 'Patient', fields: [
      { name: 'first_name', label: 'First name', kind: 'text', required: true },
      { name: 'last_name', label: 'Last name', kind: 'text', required: true },
      { name: 'admission_date', label: 'Admitted', kind: 'datetime', required: true },
      { name: 'dismissal_date', label: 'Dismissed', kind: 'datetime' },
      { name: 'ward', label: 'Ward', kind: 'select', numeric: true, options: wards.map((w) => ({ value: w.id, label: w.name })) },
    ] },
  ];
}

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

const optionValue = (o) => (typeof o === 'object' ? o.value : o);
const optionLabel = (o) => (typeof o === 'object' ? o.label : o);

function control(field, id, value) {
  const common = { id, name: field.name, 'aria-describedby': `${id}-err` };
  switch (field.kind) {
    case 'textarea':
      return h('textarea', { ...common, rows: 2, value: value ?? '' });
    case 'select':
      return h('select', common, field.options.map((o) =>
        h('option', { value: String(optionValue(o)), selected: String(optionValue(o)) === String(value) }, optionLabel(o))));
    case 'datetime':
      return h('input', { ...common, type: 'datetime-local', value: value ? toLocalInput(value) : '' });
    case 'int':
      return h('input', { ...common, type: 'number', inputmode: 'numeric', step: '1', value: value ?? '' });
    case 'dec':
      return h('input', { ...common, type: 'number', inputmode: 'decimal', step: field.step, value: value ?? '' });
    case 'password':
      return h('input', { ...common, type: 'password', autocomplete: 'new-password', value: value ?? '' });
    case 'checkbox':
      return h('input', { ...common, type: 'checkbox', checked: Boolean(value) });
    case 'checkboxes': {
      const chosen = new Set((value ?? []).map(String));
      return h('div', { class: 'checks', id, role: 'group', 'aria-labelledby': `${id}-label`, 'aria-describedby': common['aria-describedby'], tabindex: '-1' },
        field.options.length
          ? field.options.map((o) => h('label', { class: 'check' },
            h('input', { type: 'checkbox', name: field.name, value: String(optionValue(o)), checked: chosen.has(String(optionValue(o))) }),
            ` ${optionLabel(o)}`))
          : h('span', { class: 'meta' }, 'none to choose from'));
    }
    default:
      return h('input', { ...common, type: 'text', value: value ?? '' });
  }
}

/** Put a value into a control (the "Use this" of a conflict). */
function setControl(field, input, value) {
  switch (field.kind) {
    case 'datetime':
      input.value = value ? toLocalInput(value) : '';
      break;
    case 'checkbox':
      input.checked = Boolean(value);
      break;
    case 'checkboxes': {
      const chosen = new Set((value ?? []).map(String));
      for (const box of input.querySelectorAll('input[type="checkbox"]')) box.checked = chosen.has(box.value);
      break;
    }
    default:
      input.value = value == null ? '' : String(value);
  }
}

/** A value as the user reads it. */
function display(field, value) {
  if (field.kind === 'checkbox') return value ? 'yes' : 'no';
  if (field.kind === 'checkboxes') {
    const labels = (value ?? []).map((v) => optionLabel(field.options.find((o) => String(optionValue(o)) === String(v)) ?? v));
    return labels.length ? labels.join(', ') : '(none)';
  }
  if (value == null || value === '') return '(empty)';
  if (field.kind === 'datetime') return fmtDateTime(value);
  if (field.kind === 'select') return optionLabel(field.options.find((o) => String(optionValue(o)) === String(value)) ?? value);
  return String(value);
}

/** Whether two values of a field say the same (numbers as numbers, instants as instants). */
function same(field, a, b) {
  const empty = (v) => v == null || v === '';
  if (field.kind === 'checkboxes') return JSON.stringify([...(a ?? [])].map(String).sort()) === JSON.stringify([...(b ?? [])].map(String).sort());
  if (field.kind === 'checkbox') return Boolean(a) === Boolean(b);
  if (empty(a) || empty(b)) return empty(a) && empty(b);
  if (field.kind === 'int' || field.kind === 'dec') return Number(a) === Number(b);
  if (field.kind === 'datetime') return Math.floor(new Date(a).getTime() / 60000) === Math.floor(new Date(b).getTime() / 60000);
  return String(a) === String(b);
}

/**
 * A form for the field groups, filled with values. Validation is the
 * server's (novalidate): its messages appear under each field.
 */
export function buildForm(groups, values = {}) {
  const prefix = `f${++formCounter}`;
  const inputs = new Map();
  const errorSlots = new Map();
  const conflictSlots = new Map();
  const formError = h('div', { class: 'form-error', role: 'alert', hidden: true, tabindex: '-1' });
  const form = h('form', { novalidate: true },
    formError,
    groups.map((group) => h('fieldset', {},
      h('legend', {}, group.legend),
      h('div', { class: 'form-grid' }, group.fields.map((field) => {
        const id = `${prefix}-${field.name}`;
        const input = control(field, id, values[field.name]);
        const error = h('p', { class: 'field-error', id: `${id}-err`, dataset: { errorFor: field.name }, hidden: true });
        const conflict = h('div', { class: 'field-conflict', id: `${id}-conflict`, dataset: { conflictFor: field.name }, hidden: true });
        // datetime-local has minute precision: an untouched value is sent back exactly as it came
        inputs.set(field.name, { field, input, initial: { raw: input.value, value: values[field.name] } });
        errorSlots.set(field.name, error);
        conflictSlots.set(field.name, conflict);
        const label = field.kind === 'checkboxes'
          ? h('span', { class: 'label', id: `${id}-label` }, field.label)
          : h('label', { for: id }, field.label, field.unit ? h('span', { class: 'unit' }, ` (${field.unit})`) : null);
        if (field.kind === 'checkbox') {
          return h('div', { class: `field field-checkbox${field.wide ? ' wide' : ''}` },
            h('label', { class: 'check', for: id }, input, ` ${field.label}`), error, conflict);
        }
        return h('div', { class: `field${field.wide ? ' wide' : ''} field-${field.kind}` }, label, input, error, conflict);
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

  function clearConflicts() {
    for (const [name, slot] of conflictSlots) {
      slot.hidden = true;
      slot.replaceChildren();
      inputs.get(name).input.setAttribute('aria-describedby', errorSlots.get(name).id);
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

  /**
   * The record changed on the server: beside every field whose current
   * value differs from what the user sent, show that value with "Use this".
   * The user's input stays as it is. Returns how many fields differ.
   */
  function showConflict(current, sent) {
    clearConflicts();
    let count = 0;
    for (const [name, { field, input }] of inputs) {
      if (!(name in current) || same(field, current[name], sent[name])) continue;
      count += 1;
      const slot = conflictSlots.get(name);
      const use = h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Use the current ${field.label}` }, 'Use this');
      use.addEventListener('click', () => {
        setControl(field, input, current[name]);
        slot.hidden = true;
      });
      slot.replaceChildren(
        h('span', {}, 'Saved meanwhile: ', h('strong', { class: 'conflict-value' }, display(field, current[name]))), ' ', use);
      slot.hidden = false;
      input.setAttribute('aria-describedby', `${errorSlots.get(name).id} ${slot.id}`);
    }
    return count;
  }

  /** Read the values; local problems (a number that is not one) are returned as errors. */
  function read() {
    const data = {};
    const local = {};
    for (const [name, { field, input, initial }] of inputs) {
      if (field.kind === 'checkbox') {
        data[name] = input.checked;
        continue;
      }
      if (field.kind === 'checkboxes') {
        data[name] = [...input.querySelectorAll('input:checked')].map((box) => Number(box.value));
        continue;
      }
      const raw = input.value.trim();
      if (field.kind === 'int' || field.kind === 'dec') {
        if (input.validity.badInput) local[name] = ['Enter a number.'];
        else if (raw === '') data[name] = null;
        else data[name] = field.kind === 'int' ? Number(raw) : raw; // decimals travel as text, as DRF does
      } else if (field.kind === 'datetime') {
        if (raw !== '' && raw === initial.raw && initial.value) data[name] = initial.value;
        else if (raw !== '' || !field.required) data[name] = fromLocalInput(raw); // omitted: "required"
      } else if (field.kind === 'textarea' || field.kind === 'password') {
        data[name] = input.value;
      } else if (field.kind === 'select' && field.numeric) {
        data[name] = raw === '' ? null : Number(raw);
      } else {
        data[name] = raw;
      }
    }
    return { data, errors: Object.keys(local).length ? local : null };
  }

  return { form, read, showErrors, showFormError, showConflict, clearErrors, clearConflicts, inputs };
}

export const CONFLICT_MESSAGE = 'Someone else changed this record since you opened it. '
  + 'What is saved now is shown beside each field that differs from your input, which is kept. '
  + 'Save again to replace it with your input, or take the saved values with “Use this”.';

/**
 * A form in a dialog.
 *
 * - load(): optional; the current version, {values, etag}, read when the
 *   dialog opens (the form waits for it); `values` is shown if it fails.
 * - save(data, {key, etag}) performs the request and resolves to the
 *   saved object. key is the Idempotency-Key of this
 *   user action: pressing Save again with the same input after a failure
 *   sends the same key, so a write that did commit is not made twice.
 * - A 400 shows the field messages; a 412 (the record changed meanwhile)
 *   reads the current version again, shows it beside the user's input and
 *   takes its ETag, so that Save again overwrites knowingly; any other
 *   error shows on top. On success the dialog closes and onSaved(saved) runs.
 */
export function formDialog({ title, groups, values = {}, submitLabel = 'Save', prepare = (d) => d, load = null, save, onSaved }) {
  const submit = h('button', { type: 'submit', class: 'btn', disabled: Boolean(load) }, submitLabel);
  const cancel = h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => close() }, 'Cancel');
  const status = h('p', { class: 'meta form-status', role: 'status' });
  const holder = h('div', {}, load ? h('p', { class: 'loading' }, 'Loading the current version…') : null);
  const { close, dialog } = openDialog({ title, body: [status, holder], footer: [cancel, submit] });
  let ui = null;
  let etag = null;
  let last = null; // {json, key} of the last attempt that did not succeed

  function build(initial) {
    ui = buildForm(groups, initial);
    ui.form.id = `form-${formCounter}`;
    submit.setAttribute('form', ui.form.id);
    holder.replaceChildren(ui.form);
    ui.form.addEventListener('submit', onSubmit);
    submit.disabled = false;
    ui.form.querySelector('input, select, textarea')?.focus();
  }

  async function onSubmit(event) {
    event.preventDefault();
    const { data: raw, errors } = ui.read();
    if (errors) {
      ui.showErrors(errors);
      return;
    }
    const data = prepare(raw);
    const json = JSON.stringify(data);
    const key = last && last.json === json ? last.key : newKey();
    submit.disabled = true;
    status.textContent = '';
    try {
      const reply = await save(data, { key, etag });
      close();
      onSaved?.(reply);
    } catch (error) {
      last = { json, key };
      if (!dialog.isConnected) return;
      if (error.status === 412 && load) {
        try {
          const current = await load();
          etag = current.etag;
          ui.clearErrors();
          ui.showConflict(current.values, data);
          ui.showFormError(CONFLICT_MESSAGE);
        } catch (again) {
          ui.showFormError(`${error.message} ${again.message}`);
        }
      } else if (error.fieldErrors) {
        ui.clearConflicts();
        ui.showErrors(error.fieldErrors);
      } else {
        ui.showFormError(error.message);
      }
    } finally {
      submit.disabled = false;
    }
  }

  if (load) {
    load().then((current) => {
      if (!dialog.isConnected) return;
      etag = current.etag;
      build(current.values);
    }, (error) => {
      if (!dialog.isConnected) return;
      build(values);
      if (error instanceof ApiError && error.status === 404) {
        ui.showFormError('This record no longer exists.');
        submit.disabled = true;
      } else {
        status.textContent = `The current version could not be read (${error.message}); saving replaces whatever is saved now.`;
      }
    });
  } else {
    build(values);
  }
  return { close, dialog, get ui() { return ui; } };
}
