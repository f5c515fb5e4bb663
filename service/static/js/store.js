// The page's copy of one ward: its admitted patients (and the dismissed ones
// the user opened), their reports (the last WINDOW_MS, plus the older pages
// a chart loaded) and the open notifications, kept current by REST snapshots
// and live events.
//
// Reports and notifications are indexed by patient, and every patient has a
// version that grows whenever anything of theirs changes, so a view can
// redraw only the cards that changed, and no query scans all reports.
//
// Listeners get a "change" event whose detail is {stream, action, data, live, patient}
// (patient: the id of the patient concerned, or null when everything changed).

const DAY_MS = 24 * 3600 * 1000;
export const WINDOW_MS = 72 * 3600 * 1000; // what the board loads of each admitted patient's reports

function byTimeAsc(a, b) {
  return new Date(a.time) - new Date(b.time) || a.id - b.id;
}

/** True when `a` is a later version than `b` (both have updated_at). */
function newer(a, b) {
  return a?.updated_at && b?.updated_at && new Date(a.updated_at) > new Date(b.updated_at);
}

export class Store extends EventTarget {
  constructor() {
    super();
    this.user = null;
    this.wards = []; // the wards the user may pick, by name
    this.ward = null; // the ward shown
    this.generation = 0;
    this.clearData();
  }

  clearData() {
    this.generation += 1; // versions start again: keys made of them name the generation too
    this.patients = new Map();
    this.reports = new Map();
    this.byPatient = new Map(); // patient id -> Map(report id -> report)
    this.sorted = new Map(); // patient id -> its reports oldest first (cache, dropped on change)
    this.notifications = new Map(); // unacknowledged only
    this.notesByPatient = new Map(); // patient id -> Map(notification id -> notification)
    this.versions = new Map(); // patient id -> number
    this.gone = new Set(); // 'r<id>' / 'p<id>' deleted by live events: a snapshot read earlier must not bring them back
    this.pages = new Map(); // patient id -> {next, loading, error, started}: a chart's older pages
    this.loaded = false;
    this.loadedAt = 0;
    this.version = 0; // grows with every change (views compare it)
  }

  clear() {
    this.user = null;
    this.wards = [];
    this.ward = null;
    this.clearData();
  }

  wardName(id) {
    return this.wards.find((w) => w.id === id)?.name ?? `Ward #${id}`;
  }

  get isStaff() {
    return Boolean(this.user && (this.user.is_staff || this.user.is_superuser));
  }

  // --- indexes ------------------------------------------------------------

  touch(patientId) {
    this.versions.set(patientId, (this.versions.get(patientId) ?? 0) + 1);
    this.version += 1;
  }

  /** A key that changes whenever anything of the patient changed (or everything was reloaded). */
  patientVersion(patientId) {
    return `${this.generation}.${this.versions.get(patientId) ?? 0}`;
  }

  putReport(report) {
    const known = this.reports.get(report.id);
    if (known && known.patient !== report.patient) this.dropReport(report.id);
    this.reports.set(report.id, report);
    let mine = this.byPatient.get(report.patient);
    if (!mine) this.byPatient.set(report.patient, (mine = new Map()));
    mine.set(report.id, report);
    this.sorted.delete(report.patient);
    this.touch(report.patient);
  }

  dropReport(id) {
    const known = this.reports.get(id);
    if (!known) return null;
    this.reports.delete(id);
    this.byPatient.get(known.patient)?.delete(id);
    this.sorted.delete(known.patient);
    this.touch(known.patient);
    return known.patient;
  }

  putNotification(n) {
    if (n.acknowledged_at) {
      this.dropNotification(n.id);
      return;
    }
    this.notifications.set(n.id, n);
    let mine = this.notesByPatient.get(n.patient);
    if (!mine) this.notesByPatient.set(n.patient, (mine = new Map()));
    mine.set(n.id, n);
    this.touch(n.patient);
  }

  dropNotification(id) {
    const known = this.notifications.get(id);
    if (!known) return;
    this.notifications.delete(id);
    this.notesByPatient.get(known.patient)?.delete(id);
    this.touch(known.patient);
  }

  dropPatient(id) {
    if (!this.patients.has(id)) return false;
    this.patients.delete(id);
    for (const rid of this.byPatient.get(id)?.keys() ?? []) this.reports.delete(rid);
    for (const nid of this.notesByPatient.get(id)?.keys() ?? []) this.notifications.delete(nid);
    this.byPatient.delete(id);
    this.notesByPatient.delete(id);
    this.sorted.delete(id);
    this.pages.delete(id);
    this.touch(id);
    return true;
  }

  /** The paging state of a patient's chart: {first, next, loading, error}. */
  setPages(patientId, state) {
    this.pages.set(patientId, state);
    this.touch(patientId);
    this.emit({ stream: '*', action: 'pages', data: null, live: false, patient: patientId });
  }

  // --- snapshots ----------------------------------------------------------

  /** Replace the ward's data with a fresh snapshot. */
  reset({ ward, patients, reports, notifications }) {
    const { user, wards } = this;
    this.clearData();
    Object.assign(this, { user, wards, ward });
    for (const p of patients) if (p.ward === ward) this.patients.set(p.id, p);
    for (const r of reports) if (this.patients.has(r.patient)) this.putReport(r);
    for (const n of notifications) if (this.patients.has(n.patient)) this.putNotification(n);
    this.loaded = true;
    this.loadedAt = Date.now();
    this.emit({ stream: '*', action: 'reset', data: null, live: false, patient: null });
  }

  /** Add what a later read brought (a patient's reports, a chart page): newer versions win, deletes stick. */
  merge({ patients = [], reports = [], notifications = [] }) {
    const touched = new Set();
    for (const p of patients) {
      if (p.ward !== this.ward || this.gone.has(`p${p.id}`) || newer(this.patients.get(p.id), p)) continue;
      this.patients.set(p.id, p);
      this.touch(p.id);
      touched.add(p.id);
    }
    for (const r of reports) {
      if (!this.patients.has(r.patient) || this.gone.has(`r${r.id}`) || newer(this.reports.get(r.id), r)) continue;
      this.putReport(r);
      touched.add(r.patient);
    }
    for (const n of notifications) {
      if (!this.patients.has(n.patient)) continue;
      this.putNotification(n);
      touched.add(n.patient);
    }
    for (const patient of touched) this.emit({ stream: '*', action: 'merge', data: null, live: false, patient });
  }

  emit(detail) {
    this.dispatchEvent(new CustomEvent('change', { detail }));
  }

  /**
   * Apply one broadcast (a DCRF-shaped payload on a stream) or the reply to
   * one of our own writes (live = false). Returns what happened:
   * null (not of this ward: ignored), 'applied', or 'arrived' (a patient
   * this page did not have came into the ward: their reports must be read).
   */
  apply(stream, payload, live = true) {
    const { action, data } = payload;
    if (!data || typeof data !== 'object' || this.ward == null) return null;
    const id = data.id ?? data.pk;
    let patient;
    let result = 'applied';
    switch (stream) {
      case 'patients':
        patient = id;
        if (action === 'delete') {
          this.gone.add(`p${id}`);
          if (!this.dropPatient(id)) return null;
        } else if (data.ward !== this.ward) {
          if (!this.dropPatient(id)) return null; // moved to another ward: it leaves this board
        } else {
          const known = this.patients.get(id);
          this.gone.delete(`p${id}`);
          if (newer(known, data)) return null; // an older version than the one shown
          if (!known && data.dismissal_date != null) return null; // dismissed, and not opened here
          if (!known) result = 'arrived';
          this.patients.set(id, data);
          this.touch(id);
        }
        break;
      case 'reports':
        if (action === 'delete') {
          this.gone.add(`r${id}`);
          patient = this.dropReport(id);
          if (patient == null) return null;
        } else {
          if (!this.patients.has(data.patient)) {
            // moved to a patient of another ward, or of no interest here
            patient = this.dropReport(id);
            if (patient == null) return null;
            break;
          }
          this.gone.delete(`r${id}`);
          if (newer(this.reports.get(id), data)) return null;
          patient = data.patient;
          this.putReport(data);
        }
        break;
      case 'notifications':
        if (action === 'delete') {
          const known = this.notifications.get(id);
          if (!known) return null;
          patient = known.patient;
          this.dropNotification(id);
        } else {
          if (!this.patients.has(data.patient)) return null;
          patient = data.patient;
          if (!this.notifications.has(id) && data.acknowledged_at) return null;
          this.putNotification(data);
        }
        break;
      case 'history':
        if (!this.patients.has(data.patient)) return null;
        // nothing kept: the history dialogs listen for these themselves
        this.emit({ stream, action, data, live, patient: null, render: false });
        return 'applied';
      default:
        return null;
    }
    this.emit({ stream, action, data, live, patient });
    return result;
  }

  // --- queries ----------------------------------------------------------

  /** Admitted patients (no dismissal date), newest admission first. */
  admitted() {
    return [...this.patients.values()]
      .filter((p) => p.dismissal_date == null)
      .sort((a, b) => new Date(b.admission_date) - new Date(a.admission_date) || b.id - a.id);
  }

  /** A patient's reports held here, oldest first (the chart's column order). */
  reportsOf(patientId) {
    let list = this.sorted.get(patientId);
    if (!list) {
      list = [...(this.byPatient.get(patientId)?.values() ?? [])].sort(byTimeAsc);
      this.sorted.set(patientId, list);
    }
    return list;
  }

  latestReport(patientId) {
    const reports = this.reportsOf(patientId);
    return reports.length ? reports[reports.length - 1] : null;
  }

  /** Sum of fluid_balance of the reports timed within the last 24 h. */
  fluidBalance24h(patientId, now = Date.now()) {
    let sum = 0;
    let count = 0;
    const reports = this.reportsOf(patientId);
    for (let i = reports.length - 1; i >= 0; i -= 1) {
      const t = new Date(reports[i].time).getTime();
      if (t <= now - DAY_MS) break;
      if (t <= now) {
        sum += reports[i].fluid_balance ?? 0;
        count += 1;
      }
    }
    return { sum, count };
  }

  /** When the next observation is due (a Date), or null without reports. */
  nextDue(patientId) {
    const latest = this.latestReport(patientId);
    if (!latest) return null;
    return new Date(new Date(latest.time).getTime() + latest.monitoring_interval * 3600 * 1000);
  }

  notificationsOf(patientId) {
    return [...(this.notesByPatient.get(patientId)?.values() ?? [])]
      .sort((a, b) => new Date(b.created_at) - new Date(a.created_at) || b.id - a.id);
  }

  userLabel(userId) {
    if (userId == null) return '—';
    if (this.user && this.user.pk === userId) return `${this.user.username} (you)`;
    return `user #${userId}`;
  }
}
