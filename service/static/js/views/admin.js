// Administration (staff): wards (create, rename) and users (create with
// their wards, edit, deactivate or reactivate, reset the password). The
// server validates; its messages appear beside the fields. Only superusers
// see and set the staff and superuser flags, as only they may.
import * as api from '../api.js';
import { h } from '../dom.js';
import { fmtDateTime } from '../format.js';
import { confirmDialog } from './dialog.js';
import { formDialog } from './forms.js';

const USER_PAGE = 100;
const state = { wards: [], users: [], next: null, loading: false, error: null };
let view = null; // the page's elements while it is shown

function wardOptions() {
  return [...state.wards].sort((a, b) => a.name.localeCompare(b.name)).map((w) => ({ value: w.id, label: w.name }));
}

function wardNames(ids) {
  const names = ids.map((id) => state.wards.find((w) => w.id === id)?.name ?? `#${id}`);
  return names.length ? names.join(', ') : '—';
}

function say(text) {
  if (view) view.status.textContent = text;
}

function role(user) {
  if (user.is_superuser) return 'Superuser';
  if (user.is_staff) return 'Staff';
  return 'Clinician';
}

// --- forms ------------------------------------------------------------------

function userGroups({ create, superuser }) {
  const account = create
    ? [
      { name: 'username', label: 'Username', kind: 'text', required: true },
      { name: 'password', label: 'Password', kind: 'password', required: true },
    ]
    : [];
  return [
    { legend: 'Account', fields: [
      ...account,
      { name: 'first_name', label: 'First name', kind: 'text' },
      { name: 'last_name', label: 'Last name', kind: 'text' },
      { name: 'email', label: 'Email', kind: 'text' },
      ...(create ? [] : [{ name: 'is_active', label: 'Active (may log in)', kind: 'checkbox' }]),
    ] },
    { legend: 'Wards', fields: [{ name: 'wards', label: 'Wards', kind: 'checkboxes', options: wardOptions(), wide: true }] },
    ...(superuser
      ? [{ legend: 'Access', fields: [
        { name: 'is_staff', label: 'Staff: manages users and wards, sees every ward', kind: 'checkbox', wide: true },
        { name: 'is_superuser', label: 'Superuser: may do everything', kind: 'checkbox', wide: true },
      ] }]
      : []),
  ];
}

function putUser(user) {
  const at = state.users.findIndex((u) => u.id === user.id);
  if (at >= 0) state.users[at] = user;
  else state.users.unshift(user);
  draw();
}

function putWard(ward) {
  const at = state.wards.findIndex((w) => w.id === ward.id);
  if (at >= 0) state.wards[at] = ward;
  else state.wards.unshift(ward);
  draw();
}

function addUser(views) {
  formDialog({
    title: 'Add a user',
    groups: userGroups({ create: true, superuser: views.store.user.is_superuser }),
    values: { wards: views.store.ward != null ? [views.store.ward] : [] },
    submitLabel: 'Add user',
    save: (data, { key }) => api.createUser(data, { key, label: 'Adding the user' }),
    onSaved: (user) => {
      putUser(user);
      say(`User ${user.username} added.`);
    },
  });
}

function editUser(views, user) {
  formDialog({
    title: `Edit ${user.username}`,
    groups: userGroups({ create: false, superuser: views.store.user.is_superuser }),
    values: user,
    load: async () => {
      const { data, etag } = await api.getUser(user.id);
      return { values: data, etag };
    },
    save: async (data, { key, etag }) => (await api.updateUser(user.id, data, { key, ifMatch: etag, label: 'Saving the user' })).data,
    onSaved: (saved) => {
      putUser(saved);
      say(`User ${saved.username} saved.`);
    },
  });
}

async function setActive(user, active) {
  if (!active) {
    const ok = await confirmDialog(
      `Deactivate ${user.username}? They can no longer log in, and every session of theirs ends now. Their records stay.`,
      { confirmLabel: 'Deactivate' });
    if (!ok) return;
  }
  try {
    const saved = await api.updateUser(user.id, { is_active: active }, { label: active ? 'Reactivating' : 'Deactivating' });
    putUser(saved.data);
    say(active ? `${user.username} is active again.` : `${user.username} is deactivated; their sessions have ended.`);
  } catch (error) {
    say(`${user.username} could not be changed: ${error.message}`);
  }
}

function resetPassword(user) {
  formDialog({
    title: `Reset the password of ${user.username}`,
    groups: [{ legend: 'New password', fields: [{ name: 'password', label: 'New password', kind: 'password', required: true, wide: true }] }],
    submitLabel: 'Set password',
    save: (data, { key }) => api.setPassword(user.id, data.password, { key, label: 'Setting the password' }),
    onSaved: (reply) => say(`${user.username}: ${reply?.detail ?? 'the password has been set.'}`),
  });
}

const WARD_FIELDS = [{ legend: 'Ward', fields: [{ name: 'name', label: 'Name', kind: 'text', required: true, wide: true }] }];

function addWard(views) {
  formDialog({
    title: 'Add a ward',
    groups: WARD_FIELDS,
    submitLabel: 'Add ward',
    save: (data, { key }) => api.createWard(data, { key, label: 'Adding the ward' }),
    onSaved: (ward) => {
      putWard(ward);
      say(`Ward ${ward.name} added.`);
      views.refreshWards().catch(() => {});
    },
  });
}

function renameWard(views, ward) {
  formDialog({
    title: `Rename ${ward.name}`,
    groups: WARD_FIELDS,
    values: ward,
    submitLabel: 'Rename',
    load: async () => {
      const { data, etag } = await api.getWard(ward.id);
      return { values: data, etag };
    },
    save: async (data, { key, etag }) => (await api.updateWard(ward.id, data, { key, ifMatch: etag, label: 'Renaming the ward' })).data,
    onSaved: (saved) => {
      putWard(saved);
      say(`Ward renamed to ${saved.name}.`);
      views.refreshWards().catch(() => {});
    },
  });
}

// --- the page -----------------------------------------------------------------

function draw() {
  if (!view || !view.root.contains(view.el)) return;
  const { views } = view;
  const me = views.store.user;
  const wards = [...state.wards].sort((a, b) => a.name.localeCompare(b.name));
  view.wardsBody.replaceChildren(...wards.map((w) => h('tr', { dataset: { wardId: w.id } },
    h('th', { scope: 'row', dataset: { field: 'name' } }, w.name),
    h('td', {}, fmtDateTime(w.created_at)),
    h('td', {}, h('button', {
      type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Rename ${w.name}`,
      dataset: { key: `rename-ward-${w.id}` }, onclick: () => renameWard(views, w),
    }, 'Rename')))));
  view.wardsEmpty.hidden = wards.length > 0;

  view.usersBody.replaceChildren(...state.users.map((u) => {
    const mayChange = me.is_superuser || !u.is_superuser;
    const self = u.id === me.pk;
    return h('tr', { dataset: { userId: u.id, username: u.username, active: String(u.is_active) } },
      h('th', { scope: 'row' }, u.username, self ? h('span', { class: 'meta' }, ' (you)') : null),
      h('td', {}, [u.first_name, u.last_name].filter(Boolean).join(' ') || '—'),
      h('td', {}, u.email || '—'),
      h('td', { dataset: { field: 'wards' } }, wardNames(u.wards)),
      h('td', {}, role(u)),
      h('td', { dataset: { field: 'status' } }, u.is_active ? 'Active' : 'Deactivated'),
      h('td', {}, mayChange
        ? h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Edit ${u.username}`, dataset: { key: `edit-user-${u.id}` }, onclick: () => editUser(views, u) }, 'Edit'),
          h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Reset the password of ${u.username}`, dataset: { key: `password-${u.id}` }, onclick: () => resetPassword(u) }, 'Reset password'),
          self ? null : u.is_active
            ? h('button', { type: 'button', class: 'btn btn-danger btn-small', 'aria-label': `Deactivate ${u.username}`, dataset: { key: `deactivate-${u.id}` }, onclick: () => setActive(u, false) }, 'Deactivate')
            : h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Reactivate ${u.username}`, dataset: { key: `reactivate-${u.id}` }, onclick: () => setActive(u, true) }, 'Reactivate'))
        : h('span', { class: 'meta' }, 'superusers only')));
  }));
  view.more.replaceChildren(...[
    state.loading ? h('p', { class: 'loading', role: 'status' }, 'Loading…') : null,
    state.error ? h('p', { class: 'form-error', role: 'alert' }, state.error) : null,
    state.next && !state.loading
      ? h('button', { type: 'button', class: 'btn btn-quiet btn-small', onclick: () => load(true) }, 'More users')
      : null,
  ].filter(Boolean));
}

async function load(more = false) {
  state.loading = true;
  state.error = null;
  draw();
  try {
    if (more) {
      const found = await api.page(state.next);
      state.users.push(...found.results);
      state.next = found.next;
    } else {
      const [wards, users] = await Promise.all([api.listWards(), api.userPage(USER_PAGE)]);
      Object.assign(state, { wards, users: users.results, next: users.next });
    }
  } catch (error) {
    state.error = `Could not load: ${error.message}`;
  }
  state.loading = false;
  draw();
}

export function renderAdmin(root, views) {
  const { store } = views;
  document.title = 'Administration — Dengue Ward';
  root.dataset.view = 'admin';
  if (!store.isStaff) {
    view = null;
    root.replaceChildren(
      h('h1', {}, 'Administration'),
      h('p', { class: 'empty', role: 'status' }, 'Only staff manage users and wards.'));
    return;
  }
  const table = (caption, heads, body) => h('div', { class: 'table-wrap' },
    h('table', { class: 'admin' },
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col' }, t)))),
      body));
  const wardsBody = h('tbody');
  const usersBody = h('tbody');
  const wardsEmpty = h('p', { class: 'empty' }, 'No ward yet.');
  const more = h('div', { class: 'actions' });
  const status = h('p', { class: 'meta admin-status', role: 'status' });
  const el = h('div', { class: 'admin-page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Administration'), h('a', { href: '#/' }, '← Ward overview')),
    status,
    h('section', { class: 'panel', 'aria-labelledby': 'admin-wards' },
      h('div', { class: 'page-head' },
        h('h2', { id: 'admin-wards' }, 'Wards'),
        h('button', { type: 'button', class: 'btn', dataset: { key: 'add-ward' }, onclick: () => addWard(views) }, 'Add ward')),
      table('Wards', ['Name', 'Created', 'Actions'], wardsBody), wardsEmpty),
    h('section', { class: 'panel', 'aria-labelledby': 'admin-users' },
      h('div', { class: 'page-head' },
        h('h2', { id: 'admin-users' }, 'Users'),
        h('button', { type: 'button', class: 'btn', dataset: { key: 'add-user' }, onclick: () => addUser(views) }, 'Add user')),
      table('Users', ['Username', 'Name', 'Email', 'Wards', 'Role', 'Status', 'Actions'], usersBody), more));
  root.replaceChildren(el);
  view = { root, el, views, wardsBody, usersBody, wardsEmpty, more, status };
  load();
}
