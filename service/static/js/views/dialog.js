// Modal dialogs on the native <dialog> element.
import { h } from '../dom.js';

/**
 * Open a modal. Returns {dialog, body, close}. The dialog removes itself
 * from the page when closed (Escape, the close button or close()).
 */
export function openDialog({ title, body = [], footer = null, small = false, onClose = null }) {
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const content = h('div', { class: 'dialog-body' }, body);
  const dialog = h('dialog', { class: small ? 'small' : null, 'aria-labelledby': titleId },
    h('div', { class: 'dialog-head' },
      h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': 'Close', onclick: () => close() }, '✕'),
    ),
    content,
    footer ? h('div', { class: 'dialog-foot' }, footer) : null,
  );
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    onClose?.();
  }
  dialog.addEventListener('close', close);
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, body: content, close };
}

/** Ask before something destructive. Resolves true if confirmed. */
export function confirmDialog(message, { confirmLabel = 'Delete', danger = true } = {}) {
  return new Promise((resolve) => {
    let answer = false;
    const { close } = openDialog({
      title: 'Please confirm',
      small: true,
      body: h('p', {}, message),
      footer: [
        h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => close() }, 'Cancel'),
        h('button', {
          type: 'button', class: danger ? 'btn btn-danger' : 'btn',
          onclick: () => { answer = true; close(); },
        }, confirmLabel),
      ],
      onClose: () => resolve(answer),
    });
  });
}
