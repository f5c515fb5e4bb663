// The login form: POST /rest-auth/login/, the server's errors shown as they come.
import { h } from '../dom.js';

export function renderLogin(root, { onLogin, message = null }) {
  document.title = 'Log in — Dengue Ward';
  const error = h('p', { class: 'form-error', role: 'alert', id: 'login-error', hidden: !message }, message ?? '');
  const username = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'btn' }, 'Log in');
  const form = h('form', { class: 'login', novalidate: true, 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Log in to the ward board'),
    error,
    h('div', { class: 'field' }, h('label', { for: 'login-username' }, 'Username'), username),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), password),
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    try {
      await onLogin(username.value.trim(), password.value);
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  root.replaceChildren(form);
  username.focus();
}
