// The ward overview: one card per admitted patient, and a search of the
// ward's dismissed patients (read from the server page by page, never all).
//
// The page stays in place between renders: a card is rebuilt only when its
// patient's version (anything of theirs changed) or the minute changed, so
// a render costs what changed, not the whole ward.
import * as api from '../api.js';
import { h } from '../dom.js';
import { bloodPressure, fmtShort, fmtWhen, fullName, signed, value } from '../format.js';
import { countdown, notificationList, phaseBadge } from './common.js';

const DISMISSED_PAGE = 25;

function vital(label, text) {
  return h('div', {}, h('dt', {}, label), h('dd', {}, text));
}

function card(patient, store, actions) {
  const latest = store.latestReport(patient.id);
  const balance = store.fluidBalance24h(patient.id);
  const titleId = `patient-${patient.id}-name`;
  return h('article', {
    class: 'card', 'aria-labelledby': titleId,
    dataset: { patientId: patient.id, phase: latest?.status || 'none' },
  },
    h('div', { class: 'card-head' },
      h('h2', { id: titleId }, h('a', { href: `#/patients/${patient.id}`, dataset: { key: `open-${patient.id}` } }, fullName(patient))),
      phaseBadge(latest?.status)),
    h('div', { class: 'meta' },
      h('span', { dataset: { field: 'day' } }, latest?.day_of_fever != null ? `Day ${latest.day_of_fever} of illness` : 'Day of illness unknown'),
      ` · admitted ${fmtShort(patient.admission_date)}`),
    latest
      ? h('dl', { class: 'vitals', 'aria-label': `Last vital signs, ${fmtShort(latest.time)}` },
        vital('Fever', value(latest.fever, '°C')),
        vital('Pulse', value(latest.pulse, '/min')),
        vital('BP', bloodPressure(latest)),
        vital('Resp.', value(latest.respirations, '/min')),
        vital('SpO₂', value(latest.o2_saturation, '%')),
        vital('Observed', fmtWhen(latest.time)))
      : h('p', { class: 'meta' }, 'No observation recorded yet.'),
    h('div', { class: 'stat-row' },
      h('span', {}, 'Fluid balance, last 24 h'),
      h('strong', {
        class: balance.sum < 0 ? 'balance-neg' : 'balance-pos', dataset: { field: 'balance24' },
        title: `${balance.count} report(s) in the last 24 h`,
      }, balance.count ? signed(balance.sum, 'ml') : '—')),
    h('div', { class: 'stat-row' }, h('span', {}, 'Next observation'), countdown(store.nextDue(patient.id))),
    notificationList(store.notificationsOf(patient.id), actions, { limit: 3, moreHref: `#/patients/${patient.id}` }),
    h('div', { class: 'actions' },
      h('a', { class: 'btn btn-quiet btn-small', href: `#/patients/${patient.id}` }, 'Open chart'),
      h('button', {
        type: 'button', class: 'btn btn-small', dataset: { key: `add-report-${patient.id}` },
        onclick: () => actions.addReport(patient.id),
      }, 'Add observation')),
  );
}

// --- the state kept between renders -----------------------------------------

let page = null; // the overview's elements while it is shown
const cards = new Map(); // patient id -> {key, el}
const dismissed = { ward: null, query: '', results: [], next: null, loading: false, error: null, searched: false, seq: 0 };

function resetDismissed(ward) {
  Object.assign(dismissed, { ward, query: '', results: [], next: null, loading: false, error: null, searched: false });
  dismissed.seq += 1; // a search still under way is forgotten
}

/** Forget everything (another ward, another user). */
export function resetOverview() {
  page = null;
  cards.clear();
  resetDismissed(null);
}

// --- dismissed patients -------------------------------------------------------

async function searchDismissed(ward, query, more) {
  const seq = ++dismissed.seq;
  Object.assign(dismissed, { ward, query, loading: true, error: null, searched: true });
  if (!more) Object.assign(dismissed, { results: [], next: null });
  drawDismissed();
  try {
    const found = more ? await api.page(dismissed.next) : await api.dismissedPage(ward, query, DISMISSED_PAGE);
    if (seq !== dismissed.seq) return;
    dismissed.results = [...dismissed.results, ...found.results];
    dismissed.next = found.next;
  } catch (error) {
    if (seq !== dismissed.seq) return;
    dismissed.error = error.message;
  }
  dismissed.loading = false;
  drawDismissed();
}

function drawDismissed() {
  if (!page) return;
  const { results, next, loading, error, searched, query } = dismissed;
  const items = results.map((p) => h('li', { dataset: { patientId: p.id } },
    h('a', { href: `#/patients/${p.id}` }, fullName(p)),
    ` — admitted ${fmtShort(p.admission_date)}, dismissed ${fmtShort(p.dismissal_date)}`));
  let summary = null;
  if (loading) summary = h('p', { class: 'meta', role: 'status' }, 'Searching…');
  else if (error) summary = h('p', { class: 'form-error', role: 'alert' }, error);
  else if (searched && !results.length) {
    summary = h('p', { class: 'empty', role: 'status' }, query ? `No dismissed patient matches “${query}”.` : 'No patient has been dismissed from this ward.');
  }
  page.dismissedResults.replaceChildren(...[
    items.length ? h('ul', { class: 'dismissed-list' }, items) : null,
    summary,
    next && !loading
      ? h('button', { type: 'button', class: 'btn btn-quiet btn-small', onclick: () => searchDismissed(dismissed.ward, dismissed.query, true) }, 'More dismissed patients')
      : null,
  ].filter(Boolean));
}

function dismissedSection(ward) {
  const input = h('input', { type: 'search', id: 'dismissed-search', name: 'search', placeholder: 'Part of a name', maxlength: 100, value: dismissed.query, autocomplete: 'off' });
  const form = h('form', { class: 'search', role: 'search', 'aria-label': 'Dismissed patients' },
    h('label', { for: 'dismissed-search' }, 'Find a dismissed patient'),
    h('div', { class: 'search-row' },
      input,
      h('button', { type: 'submit', class: 'btn' }, 'Search'),
      h('button', {
        type: 'button', class: 'btn btn-quiet',
        onclick: () => { input.value = ''; searchDismissed(ward, '', false); },
      }, 'List all')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    searchDismissed(ward, input.value.trim(), false);
  });
  const results = h('div', { class: 'dismissed-results', 'aria-live': 'polite' });
  const section = h('section', { class: 'dismissed panel', 'aria-labelledby': 'dismissed-title' },
    h('h2', { id: 'dismissed-title' }, 'Dismissed patients'),
    h('p', { class: 'meta' }, 'Dismissed patients are not loaded with the ward: search them by name, or list them newest first.'),
    form, results);
  return { section, results };
}

// --- the page -----------------------------------------------------------------

function build(root, store, actions) {
  if (dismissed.ward !== store.ward) resetDismissed(store.ward);
  const count = h('span', { class: 'meta' });
  const title = h('h1', {}, `${store.wardName(store.ward)} `, count);
  const grid = h('div', { class: 'cards' });
  const empty = h('p', { class: 'empty' }, 'No patient is admitted. Use “Add patient” to admit one.');
  const { section, results } = dismissedSection(store.ward);
  const el = h('div', { class: 'overview', dataset: { ward: store.ward } },
    h('div', { class: 'page-head' },
      title,
      h('button', { type: 'button', class: 'btn', dataset: { key: 'add-patient' }, onclick: () => actions.addPatient() }, 'Add patient')),
    grid, empty, section);
  root.replaceChildren(el);
  root.dataset.view = `overview:${store.ward}`;
  page = { el, root, ward: store.ward, title, count, grid, empty, dismissedResults: results };
  drawDismissed();
}

export function renderOverview(root, { store, actions, epoch }) {
  document.title = `${store.wardName(store.ward)} — Dengue Ward`;
  if (!page || page.root !== root || page.ward !== store.ward || !root.contains(page.el)) build(root, store, actions);
  const admitted = store.admitted();
  page.title.firstChild.textContent = `${store.wardName(store.ward)} `;
  page.count.textContent = `${admitted.length} admitted`;
  page.empty.hidden = admitted.length > 0;

  const wanted = [];
  const ids = new Set();
  for (const patient of admitted) {
    const key = `${store.patientVersion(patient.id)}:${epoch}`;
    let entry = cards.get(patient.id);
    if (!entry || entry.key !== key) {
      const el = card(patient, store, actions);
      if (entry?.el.isConnected) entry.el.replaceWith(el);
      entry = { key, el };
      cards.set(patient.id, entry);
    }
    wanted.push(entry.el);
    ids.add(patient.id);
  }
  for (const id of cards.keys()) if (!ids.has(id)) cards.delete(id);
  const grid = page.grid;
  wanted.forEach((el, i) => {
    const at = grid.children[i];
    if (at !== el) grid.insertBefore(el, at ?? null);
  });
  while (grid.children.length > wanted.length) grid.lastElementChild.remove();
}
