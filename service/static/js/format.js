// Formatting for display: always the browser's own locale and time zone.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const shortDateTime = new Intl.DateTimeFormat(undefined, {
  day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
});
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export const DASH = '—';

export function fmtDateTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : DASH;
}

export function fmtShort(iso) {
  return iso ? shortDateTime.format(new Date(iso)) : DASH;
}

export function fmtTime(iso) {
  return iso ? timeOnly.format(new Date(iso)) : DASH;
}

/** Time only for today, else a short date and time. */
export function fmtWhen(iso) {
  if (!iso) return DASH;
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? timeOnly.format(d) : shortDateTime.format(d);
}

export function fullName(patient) {
  return patient ? `${patient.first_name} ${patient.last_name}` : 'Unknown patient';
}

export function value(v, unit = '') {
  if (v == null || v === '') return DASH;
  return unit ? `${v} ${unit}` : String(v);
}

export function signed(n, unit = '') {
  if (n == null) return DASH;
  const text = n > 0 ? `+${n}` : String(n);
  return unit ? `${text} ${unit}` : text;
}

export function bloodPressure(report) {
  if (!report || (report.bp_systolic == null && report.bp_diastolic == null)) return DASH;
  return `${report.bp_systolic ?? '?'}/${report.bp_diastolic ?? '?'}`;
}

const pad = (n) => String(n).padStart(2, '0');

/** "2 h 05 min" or "4 min 09 s" for a duration in milliseconds (sign ignored). */
export function duration(ms) {
  const total = Math.floor(Math.abs(ms) / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours >= 24) return `${Math.floor(hours / 24)} d ${hours % 24} h`;
  if (hours > 0) return `${hours} h ${pad(minutes)} min`;
  return `${minutes} min ${pad(seconds)} s`;
}

/** A Date as the value of an <input type="datetime-local"> (local time). */
export function toLocalInput(date) {
  if (!date) return '';
  const d = date instanceof Date ? date : new Date(date);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The value of a datetime-local input (local time) as ISO 8601 UTC, or null. */
export function fromLocalInput(text) {
  if (!text) return null;
  const d = new Date(text); // a date-time without offset is local time
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
