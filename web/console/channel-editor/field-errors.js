// The server's validation errors, shown next to the field they name: a
// fault comes with its JSON path (zones[1].items[0].duration), and every
// field of the editor carries its own path in data-path.

import { h } from '../dom.js';
import { capital } from '../content-common.js';

let errorSeq = 0;
/** Removes every error shown under root. */
export function clearFieldErrors(root) {
  for (const el of root.querySelectorAll('.field-error')) el.remove();
  for (const el of root.querySelectorAll('[aria-invalid="true"]')) {
    el.removeAttribute('aria-invalid');
    const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && !x.startsWith('channel-field-error-'));
    if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
    else el.removeAttribute('aria-describedby');
  }
}
/** Shows message next to the field whose data-path is path (or its nearest parent); false if none. */
export function showFieldError(root, path, message) {
  const byPath = new Map([...root.querySelectorAll('[data-path]')].map((el) => [el.dataset.path, el]));
  let p = path;
  let target = null;
  while (p) {
    target = byPath.get(p);
    if (target) break;
    const shorter = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
    if (shorter === p) break;
    p = shorter;
  }
  if (!target) return false;
  const details = target.closest('details');
  if (details) details.open = true;
  const msg = h('p', { class: 'field-error', id: `channel-field-error-${++errorSeq}`, text: capital(message) });
  const control = target.matches('input, select, textarea');
  if (control) {
    (target.closest('.field') || target.parentElement).append(msg);
    target.setAttribute('aria-invalid', 'true');
    target.setAttribute('aria-describedby', `${target.getAttribute('aria-describedby') || ''} ${msg.id}`.trim());
  } else {
    target.append(msg);
  }
  target.scrollIntoView({ block: 'center' });
  if (control && !target.disabled) target.focus({ preventScroll: true });
  else if (target.tabIndex >= 0 || target.hasAttribute('tabindex')) target.focus({ preventScroll: true });
  return true;
}
