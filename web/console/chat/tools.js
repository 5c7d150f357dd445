// The operator's tools in an open chat (views/chat.js): predefined texts
// (picked from a list, or typed as /shortcut and expanded with Tab), a form
// pushed to the visitor, and sending the visitor's page to another URL of
// the site. The lists are read once per conversation; admins edit them on
// the "Predefined texts and forms" page. What the server answers for a form
// or a redirect is handed to onItem, which shows it like the stream would
// (the conversation keys items by seq, so nothing shows twice).

import * as chat from './api.js';
import { appendLinked } from '/chat/assets/links.js'; // the visitor's window shows links the same way
import { busy, errorText, h, setError, toast } from '../dom.js';

const SHORTCUT_BEFORE_CURSOR = /(^|\s)\/([a-z0-9_-]{1,40})$/;

/** Puts text into a textarea at its cursor (replacing the selection), as typed. */
function insertAt(textarea, text, from = textarea.selectionStart, to = textarea.selectionEnd) {
  textarea.setRangeText(text, from, to, 'end');
  textarea.dispatchEvent(new Event('input', { bubbles: true }));
  textarea.focus();
}

/**
 * The tools row of the chat chatId whose message box is textarea.
 * Returns the element; onItem(item) gets the form or redirect the server stored.
 */
export function chatTools({ chatId, textarea, onItem }) {
  const canned = [];
  const cannedPicker = h('select', { id: 'canned-picker', 'aria-label': 'Insert a predefined text' },
    h('option', { value: '', text: 'Predefined text…' }));
  const formPicker = h('select', { id: 'form-picker', 'aria-label': 'Form to send' });
  const formPush = h('button', { type: 'button', id: 'form-push', class: 'btn btn-small', text: 'Send form',
    disabled: true });
  const url = h('input', { id: 'redirect-url', type: 'url', maxlength: '2000', autocomplete: 'off',
    placeholder: 'https://… a page of the site', 'aria-label': 'Page to send the visitor to' });
  const redirectBtn = h('button', { type: 'submit', id: 'redirect-submit', class: 'btn btn-small', text: 'Show page' });
  const err = h('p', { id: 'chat-tools-error', class: 'form-error', role: 'alert', hidden: true });
  const redirectForm = h('form', { id: 'redirect-form', class: 'chat-tool' }, url, redirectBtn);
  const el = h('div', { id: 'chat-tools', class: 'chat-tools', role: 'group', 'aria-label': 'Operator tools' },
    h('div', { class: 'chat-tool' }, cannedPicker),
    h('div', { class: 'chat-tool' }, formPicker, formPush),
    redirectForm, err);

  cannedPicker.addEventListener('change', () => {
    const c = canned.find((x) => x.id === cannedPicker.value);
    cannedPicker.value = '';
    if (c) insertAt(textarea, c.text);
  });

  // "/shortcut" right before the cursor, then Tab: the predefined text replaces it
  textarea.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Tab' || ev.shiftKey || ev.isComposing || textarea.selectionStart !== textarea.selectionEnd) return;
    const before = textarea.value.slice(0, textarea.selectionStart);
    const m = SHORTCUT_BEFORE_CURSOR.exec(before);
    const c = m && canned.find((x) => x.shortcut === m[2]);
    if (!c) return;
    ev.preventDefault();
    insertAt(textarea, c.text, textarea.selectionStart - m[2].length - 1, textarea.selectionStart);
  });

  formPush.addEventListener('click', () => busy(formPush, async () => {
    setError(err, null);
    try {
      const res = await chat.pushForm(chatId, formPicker.value);
      toast('Form sent to the visitor.');
      if (res.form) onItem({ ...res.form, type: 'form' });
    } catch (e) {
      setError(err, e);
    }
  }));

  redirectForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const target = url.value.trim();
    if (!target) return;
    busy(redirectBtn, async () => {
      setError(err, null);
      try {
        const res = await chat.redirectVisitor(chatId, target);
        url.value = '';
        toast('The visitor’s page is on its way.');
        if (res.redirect) onItem({ ...res.redirect, type: 'redirect' });
      } catch (e) {
        setError(err, e);
      }
    });
  });

  (async () => {
    const [c, f] = await Promise.all([
      chat.listCanned().catch((e) => ({ canned: [], error: e })),
      chat.listForms().catch((e) => ({ forms: [], error: e })),
    ]);
    canned.push(...(c.canned || []));
    for (const x of canned) {
      cannedPicker.append(h('option', { value: x.id, text: `/${x.shortcut} — ${x.title}` }));
    }
    cannedPicker.disabled = !canned.length;
    if (!canned.length) cannedPicker.firstChild.textContent = 'No predefined text';
    const list = f.forms || [];
    formPicker.replaceChildren(...(list.length ? list.map((x) => h('option', { value: x.id, text: x.name }))
      : [h('option', { value: '', text: 'No form' })]));
    formPicker.disabled = !list.length;
    formPush.disabled = !list.length;
    if (c.error || f.error) toast(errorText(c.error || f.error), 'error');
  })();

  return el;
}

/** The body of a conversation item that is not a message: a form sent, its answers, a redirect. */
export function itemBody(m) {
  if (m.type === 'form') {
    return [h('p', { class: 'msg-text', text: `Form sent: ${m.name || ''}` }),
      h('ul', { class: 'form-fields' }, (m.fields || []).map((f) =>
        h('li', { text: `${f.label}${f.required ? ' *' : ''} (${f.type})` })))];
  }
  if (m.type === 'form_answer') {
    const dl = h('dl', { class: 'kv form-answers' });
    for (const a of m.answers || []) {
      dl.append(h('dt', { text: a.label || a.name }),
        h('dd', { class: 'wrap-anywhere', text: typeof a.value === 'boolean' ? (a.value ? 'Yes' : 'No') : a.value }));
    }
    return [h('p', { class: 'msg-text', text: `Answers to ${m.name || 'the form'}` }), dl];
  }
  if (m.type === 'redirect') return [h('p', { class: 'msg-text wrap-anywhere', text: `Visitor sent to ${m.url}` })];
  return [appendLinked(h('p', { class: 'msg-text' }), m.text)];
}
