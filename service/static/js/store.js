// The page's copy of the ward: patients, reports and unacknowledged
// notifications, kept current by REST snapshots and live events.
// Listeners get a "change" event whose detail is {stream, action, data, live}.

const DAY_MS = 24 * 3600 * 1000;

function byTimeAsc(a, b) {
  return new Date(a.time) - new Date(b.time) || a.id - b.id;
}

export class Store extends EventTarget {
  constructor() {
    super();
    this.user = null;
    this.patients = new Map();
    this.reports = new Map();
    this.notifications = new Map(); // unacknowledged only
    this.loaded = false;
  }

  clear() {
    this.user = null;
    this.patients.clear();
    this.reports.clear();
    this.notifications.clear();
    this.loaded = false;
  }

  /** Replace everything with a fresh snapshot. */
  reset({ patients, reports, notifications }) {
    this.patients = new Map(patients.map((p) => [p.id, p]));
    this.reports = new Map(reports.map((r) => [r.id, r]));
    this.notifications = new Map(notifications.filter((n) => !n.acknowledged_at).map((n) => [n.id, n]));
    this.loaded = true;
    this.emit({ stream: '*', action: 'reset', data: null, live: false });
  }

  emit(detail) {
    this.dispatchEvent(new CustomEvent('change', { detail }));
  }

  /** Apply one broadcast (a DCRF-shaped payload on a stream). */
  apply(stream, payload, live = true) {
    const { action, data } = payload;
    if (!data || typeof data !== 'object') return;
    const id = data.id ?? data.pk;
    switch (stream) {
      case 'patients':
        if (action === 'delete') {
          this.patients.delete(id);
          for (const [rid, r] of this.reports) if (r.patient === id) this.reports.delete(rid);
          for (const [nid, n] of this.notifications) if (n.patient === id) this.notifications.delete(nid);
        } else {
          this.patients.set(id, data);
        }
        break;
      case 'reports':
        if (action === 'delete') this.reports.delete(id);
        else this.reports.set(id, data);
        break;
      case 'notifications':
        if (action === 'delete' || data.acknowledged_at) this.notifications.delete(id);
        else this.notifications.set(id, data);
        break;
      case 'history':
        break; // nothing kept: the history dialog listens for these itself
      default:
        return;
    }
    this.emit({ stream, action, data, live });
  }

  // --- queries ----------------------------------------------------------

  /** Admitted patients (no dismissal date), newest admission first. */
  admitted() {
    return [...this.patients.values()]
      .filter((p) => p.dismissal_date == null)
      .sort((a, b) => new Date(b.admission_date) - new Date(a.admission_date) || b.id - a.id);
  }

  dismissed() {
    return [...this.patients.values()]
      .filter((p) => p.dismissal_date != null)
      .sort((a, b) => new Date(b.dismissal_date) - new Date(a.dismissal_date));
  }

  /** A patient's reports, oldest first (the chart's column order). */
  reportsOf(patientId) {
    return [...this.reports.values()].filter((r) => r.patient === patientId).sort(byTimeAsc);
  }

  latestReport(patientId) {
    const reports = this.reportsOf(patientId);
    return reports.length ? reports[reports.length - 1] : null;
  }

  /** Sum of fluid_balance of the reports timed within the last 24 h. */
  fluidBalance24h(patientId, now = Date.now()) {
    let sum = 0;
    let count = 0;
    for (const r of this.reports.values()) {
      if (r.patient !== patientId) continue;
      const t = new Date(r.time).getTime();
      if (t > now - DAY_MS && t <= now) {
        sum += r.fluid_balance ?? 0;
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
    return [...this.notifications.values()]
      .filter((n) => n.patient === patientId)
      .sort((a, b) => new Date(b.created_at) - new Date(a.created_at) || b.id - a.id);
  }

  userLabel(userId) {
    if (userId == null) return '—';
    if (this.user && this.user.pk === userId) return `${this.user.username} (you)`;
    return `user #${userId}`;
  }
}
