// Building the DOM and giving feedback: h() (createElement/textContent only,
// never innerHTML with data), toasts, inline errors, busy buttons, cards,
// tables with labelled cells for the phone layout, one-time secret panels.

/** Builds an element. attrs: class, text, dataset, on<event>, props (value, checked, ...), other attributes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'for') el.htmlFor = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (['value', 'checked', 'disabled', 'hidden', 'selected', 'required', 'readOnly'].includes(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
export const $ = (sel, root = document) => root.querySelector(sel);
let toastTimer = null;
/** Shows a short message in #toast. kind: 'ok' | 'error' | 'info'. */
export function toast(message, kind = 'ok') {
  const el = $('#toast');
  if (!el) return;
  el.textContent = message;
  el.className = `toast show toast-${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = 'toast'; el.textContent = ''; }, kind === 'error' ? 8000 : 4000);
}

export function errorText(err) {
  return err && err.message ? err.message : String(err);
}

/** Sets or clears an inline error paragraph. */
export function setError(el, err) {
  if (!el) return;
  if (err) {
    el.textContent = typeof err === 'string' ? err : errorText(err);
    el.hidden = false;
  } else {
    el.textContent = '';
    el.hidden = true;
  }
}

/** Runs fn while the button is disabled and marked busy. */
export async function busy(button, fn) {
  const buttons = Array.isArray(button) ? button : [button];
  for (const b of buttons) if (b) { b.disabled = true; b.setAttribute('aria-busy', 'true'); }
  try {
    return await fn();
  } finally {
    for (const b of buttons) if (b) { b.disabled = false; b.removeAttribute('aria-busy'); }
  }
}

export function field(label, input, hint) {
  const id = input.id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint`, text: hint }) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hintEl);
}

export function card(title, ...children) {
  const headingId = `card-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { class: 'card', 'aria-labelledby': headingId },
    h('h2', { id: headingId, text: title }), ...children);
}

export function badge(text, kind) {
  return h('span', { class: `badge badge-${kind}`, text });
}

export function pageHeader(title, ...actions) {
  return h('div', { class: 'page-header' },
    h('h1', { id: 'page-title', tabindex: '-1', text: title }),
    actions.length ? h('div', { class: 'page-actions' }, ...actions) : null);
}

async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.focus();
      input.select();
      try {
        return document.execCommand('copy');
      } catch {
        return false;
      }
    }
    return false;
  }
}

/** A panel that shows a secret exactly once (token, temporary password), with a copy button. */
export function secretPanel({ id, title, value, note, onDismiss }) {
  const input = h('input', {
    id: `${id}-value`, class: 'secret-value', type: 'text', value, readOnly: true,
    'aria-label': title, spellcheck: 'false', autocomplete: 'off',
  });
  const copyBtn = h('button', {
    type: 'button', class: 'btn', id: `${id}-copy`, text: 'Copy',
    onclick: async () => {
      const ok = await copyText(value, input);
      copyBtn.textContent = ok ? 'Copied' : 'Select and copy';
      setTimeout(() => { copyBtn.textContent = 'Copy'; }, 2000);
    },
  });
  const panel = h('div', { class: 'secret-panel', id, role: 'region', 'aria-label': title },
    h('div', { class: 'secret-head' },
      h('strong', { text: title }),
      h('button', {
        type: 'button', class: 'btn btn-ghost btn-small', text: 'Dismiss',
        onclick: () => { panel.remove(); if (onDismiss) onDismiss(); },
      })),
    h('div', { class: 'secret-row' }, input, copyBtn),
    note ? h('p', { class: 'hint', text: note }) : null);
  return panel;
}

/** A table row whose cells carry their column name (data-label) for the stacked phone layout. */
export function labelledRow(labels, attrs, ...cells) {
  cells.forEach((td, i) => { if (labels[i]) td.dataset.label = labels[i]; });
  return h('tr', attrs, ...cells);
}

export function headRow(labels, actionsLast = false) {
  return h('thead', {}, h('tr', {}, labels.map((l, i) =>
    h('th', { scope: 'col', class: actionsLast && i === labels.length - 1 ? 'col-actions' : null, text: l }))));
}

export function emptyRow(colspan, text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: String(colspan), text }));
}

export function tableWrap(table, label) {
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': label, tabindex: '0' }, table);
}

/** fn, called ms after the last call (typing in a filter box); .cancel() drops a pending call. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}
