// The Media library page: uploads (hashed, asked for, then sent), the storage
// used, and the library a page at a time, sorted, filtered and paged by the
// server.

import * as api from '../api.js';
import { state } from '../session.js';
import {
  $,
  busy,
  debounce,
  errorText,
  field,
  h,
  pageHeader,
  setError,
  tableWrap,
  toast,
} from '../dom.js';
import { fmtTime, timeEl } from '../format.js';
import { tagList } from '../screens-common.js';
import { pagedTable } from '../paged-table.js';
import {
  ACCEPTED_FILES,
  capital,
  fileSha256,
  fmtBytes,
  KIND_LABELS,
  kindBadge,
  mediaThumb,
  parseTagList,
} from '../content-common.js';

function uploadErrorText(err) {
  const d = err.detail || {};
  if (err.code === 'quota_exceeded') {
    const size = Number(d.size) || 0;
    return `Over the storage quota: this file needs ${fmtBytes(size)} and ${fmtBytes(d.used)} of ` +
      `${fmtBytes(d.quota)} are already used. Delete unused media first.`;
  }
  if (err.code === 'unsupported_type') return `Not accepted: ${err.message}.`;
  if (err.code === 'body_too_large') return 'Too large: a file can have at most 4 GiB.';
  if (err.code === 'hash_mismatch') return 'The file changed while it was being sent. Try again.';
  if (err.status === 507) return 'The server has no space left for this file.';
  return capital(errorText(err));
}

export async function renderMedia(stale) {
  const filters = { q: '', tag: '', kind: '' };
  const knownTags = new Set();
  let library = { used_bytes: 0, quota_bytes: 0 };

  // ---- storage
  const quotaFill = h('div', { class: 'quota-fill' });
  const quotaBar = h('div', {
    id: 'media-quota', class: 'quota-bar', role: 'progressbar', 'aria-label': 'Storage used', 'aria-valuemin': '0',
  }, quotaFill);
  const quotaText = h('p', { id: 'media-quota-text', class: 'quota-text' });
  function paintQuota() {
    const used = Number(library.used_bytes) || 0;
    const quota = Number(library.quota_bytes) || 0;
    const pct = quota > 0 ? Math.min(100, (used / quota) * 100) : 0;
    quotaFill.style.width = `${pct}%`;
    quotaBar.className = `quota-bar${pct >= 90 ? ' quota-high' : ''}`;
    quotaBar.setAttribute('aria-valuemax', String(quota));
    quotaBar.setAttribute('aria-valuenow', String(used));
    quotaBar.setAttribute('aria-valuetext', `${fmtBytes(used)} of ${fmtBytes(quota)}`);
    quotaBar.dataset.used = String(used);
    quotaBar.dataset.quota = String(quota);
    const shown = used > 0 && pct < 1 ? '< 1' : String(Math.round(pct));
    quotaText.replaceChildren(h('strong', { text: fmtBytes(used) }),
      quota > 0 ? ` of ${fmtBytes(quota)} used (${shown} %)` : ' used');
  }

  // ---- the library table
  const filtered = () => !!(filters.q || filters.tag || filters.kind);
  const table = pagedTable({
    id: 'media-table',
    caption: 'Media of this account, newest first',
    columns: [
      { label: 'Preview' }, { label: 'File', sort: 'filename' }, { label: 'Kind', sort: 'kind' },
      { label: 'Size', sort: 'size' }, { label: 'Tags' }, { label: 'Added', sort: 'created_at' },
      { label: 'Actions', className: 'col-actions' },
    ],
    sort: '-created_at',
    load: async (page) => {
      const res = await api.listMedia({ ...filters, ...page });
      return { ...res, items: res.media || [] };
    },
    key: (m) => m.sha256,
    makeRow: (m) => ({ tr: mediaRow(m), update: () => {} }),
    empty: () => h('tr', { class: 'empty', id: 'media-empty' }, h('td', { colspan: '7' },
      h('p', { class: 'empty-title', text: filtered() ? 'Nothing matches these filters' : 'No media yet' }),
      h('p', { class: 'hint', text: filtered() ? 'Clear the search or choose another kind or tag.'
        : 'Upload images, videos or HTML pages above; then add them to the playlists of your channels.' }))),
    onPage: (res) => {
      library = res;
      for (const m of res.media || []) for (const t of m.tags || []) knownTags.add(t);
      paintTags();
      const total = Number(res.total) || 0;
      summary.textContent = total
        ? `${total.toLocaleString()} file${total === 1 ? '' : 's'} · ${fmtBytes(Number(res.total_bytes) || 0)}${filtered() ? ' (filtered)' : ''}` : '';
      paintQuota();
    },
  });
  table.table.classList.add('media-table');
  const { tbody } = table;
  const summary = h('p', { id: 'media-summary', class: 'summary', 'aria-live': 'polite' });
  const search = h('input', {
    id: 'media-search', type: 'search', placeholder: 'Search by file name', autocomplete: 'off', spellcheck: 'false',
    'aria-label': 'Search media by file name',
  });
  const kindSelect = h('select', { id: 'media-kind', class: 'select-compact', 'aria-label': 'Kind' },
    h('option', { value: '', text: 'All kinds' }),
    ['image', 'video', 'html'].map((k) => h('option', { value: k, text: `${KIND_LABELS[k]}s` })));
  const tagSelect = h('select', { id: 'media-tag', class: 'select-compact', 'aria-label': 'Tag' });

  function paintTags() {
    const current = tagSelect.value || filters.tag;
    tagSelect.replaceChildren(h('option', { value: '', text: 'All tags' }),
      ...[...knownTags].sort((a, b) => a.localeCompare(b)).map((t) => h('option', { value: t, text: t })));
    tagSelect.value = knownTags.has(current) ? current : '';
    tagSelect.disabled = knownTags.size === 0;
  }

  function mediaRow(m) {
    const key = m.sha256.slice(0, 12);
    const edit = h('button', {
      type: 'button', class: 'btn btn-small media-edit-button', id: `media-edit-${key}`, text: 'Edit',
      'aria-expanded': 'false', 'aria-label': `Edit ${m.filename}`,
    });
    const del = h('button', {
      type: 'button', class: 'btn btn-small btn-danger', id: `media-delete-${key}`, text: 'Delete',
      'aria-label': `Delete ${m.filename}`,
    });
    const tr = table.row({ dataset: { sha256: m.sha256, filename: m.filename, kind: m.kind } },
      h('td', { class: 'cell-preview' },
        h('a', { class: 'thumb-link', href: api.mediaContentUrl(m.sha256), target: '_blank', rel: 'noopener', 'aria-label': `Open ${m.filename}` },
          mediaThumb(m))),
      h('td', { class: 'cell-file' },
        h('div', { class: 'file-cell' },
          h('span', { class: 'media-name', text: m.filename }),
          h('span', { class: 'screen-sub mono', title: m.sha256, text: `${key}…` }))),
      h('td', {}, kindBadge(m.kind)),
      h('td', { class: 'nowrap', title: `${Number(m.size).toLocaleString()} bytes`, text: fmtBytes(m.size) }),
      h('td', {}, tagList(m.tags)),
      h('td', { class: 'nowrap cell-added' }, h('div', { class: 'stamp' }, timeEl(m.created_at, fmtTime(m.created_at).slice(0, 16)),
        m.created_by ? h('span', { class: 'screen-sub', text: `by ${m.created_by}` }) : null)),
      h('td', { class: 'col-actions' }, h('div', { class: 'row-actions' }, edit, del)));
    edit.addEventListener('click', () => openEditor(m, tr, edit));
    del.addEventListener('click', () => busy(del, async () => {
      if (!window.confirm(`Delete “${m.filename}” from the library? Screens that already downloaded it keep their copy until their content changes.`)) return;
      try {
        await api.deleteMedia(m.sha256);
        toast(`“${m.filename}” deleted.`);
        await reload();
      } catch (err) {
        toast(err.code === 'media_in_use' ? `Not deleted: ${err.message}.` : errorText(err), 'error');
      }
    }));
    return tr;
  }

  function openEditor(m, tr, editBtn) {
    const open = tbody.querySelector('tr.edit-row');
    if (open && open.dataset.sha256 === m.sha256) {
      $('input', open).focus();
      return;
    }
    if (open) open.remove();
    for (const b of tbody.querySelectorAll('.media-edit-button')) b.setAttribute('aria-expanded', 'false');
    const key = m.sha256.slice(0, 12);
    const nameInput = h('input', {
      id: `media-name-${key}`, type: 'text', value: m.filename, required: true, maxlength: '200', autocomplete: 'off',
    });
    const tagsInput = h('input', {
      id: `media-tags-${key}`, type: 'text', value: (m.tags || []).join(', '), autocomplete: 'off',
      placeholder: 'e.g. lobby, summer',
    });
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { type: 'submit', id: `media-save-${key}`, class: 'btn btn-primary', text: 'Save' });
    const cancel = h('button', { type: 'button', class: 'btn btn-ghost', text: 'Cancel' });
    const form = h('form', { class: 'form-inline media-edit', 'aria-label': `Edit ${m.filename}` },
      field('File name', nameInput),
      field('Tags', tagsInput, 'Separated by commas.'),
      h('div', { class: 'field field-button inline' }, save, cancel),
      err);
    const editRow = h('tr', { class: 'edit-row', dataset: { sha256: m.sha256 } },
      h('td', { colspan: String(table.labels.length) }, form));
    tr.after(editRow);
    editBtn.setAttribute('aria-expanded', 'true');
    const close = () => {
      editRow.remove();
      editBtn.setAttribute('aria-expanded', 'false');
      editBtn.focus();
    };
    cancel.addEventListener('click', close);
    form.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        close();
      }
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      const filename = nameInput.value.trim();
      const tags = parseTagList(tagsInput.value);
      if (!filename) { setError(err, 'Give the file a name.'); nameInput.focus(); return; }
      if (tags.length > 32) { setError(err, 'A medium has at most 32 tags.'); tagsInput.focus(); return; }
      if (tags.some((t) => t.length > 64 || t.includes('"'))) {
        setError(err, 'A tag has at most 64 characters and no double quotes.');
        tagsInput.focus();
        return;
      }
      busy(save, async () => {
        try {
          await api.updateMedia(m.sha256, { filename, tags });
          toast(`“${filename}” saved.`);
          await reload();
          const again = tbody.querySelector(`tr[data-sha256="${m.sha256}"] .media-edit-button`);
          if (again) again.focus();
        } catch (e) {
          setError(err, e);
        }
      });
    });
    nameInput.focus();
    nameInput.select();
  }

  async function reload() {
    try {
      await table.reload();
    } catch (err) {
      if (!stale()) toast(errorText(err), 'error');
    }
  }
  async function refilter() {
    try {
      await table.first();
    } catch (err) {
      if (!stale()) toast(errorText(err), 'error');
    }
  }

  const searchLater = debounce(() => { filters.q = search.value.trim(); refilter(); }, 250);
  state.cleanup.push(() => searchLater.cancel());
  search.addEventListener('input', searchLater);
  kindSelect.addEventListener('change', () => { filters.kind = kindSelect.value; refilter(); });
  tagSelect.addEventListener('change', () => { filters.tag = tagSelect.value; refilter(); });

  // ---- uploads: one file at a time, each hashed, asked for, then sent
  const fileInput = h('input', {
    id: 'media-file', type: 'file', multiple: true, accept: ACCEPTED_FILES, class: 'visually-hidden',
    'aria-describedby': 'media-drop-hint',
  });
  const drop = h('div', { id: 'media-drop', class: 'dropzone' },
    fileInput,
    h('span', { class: 'dropzone-icon', 'aria-hidden': 'true' }),
    h('p', { class: 'dropzone-title' },
      h('label', { for: 'media-file', class: 'btn btn-primary', text: 'Choose files' }),
      h('span', { text: ' or drop them here' })),
    h('p', { class: 'hint', id: 'media-drop-hint', text: 'PNG, JPEG, WebP and GIF images, MP4 and WebM videos, HTML pages. A file the library already has is not sent again.' }));
  const uploads = h('ul', { id: 'upload-progress', class: 'uploads', 'aria-label': 'Uploads', 'aria-live': 'polite' });
  const queue = [];
  let running = null;
  let current = null;

  function uploadItem(file) {
    const progress = h('progress', { max: '100', value: '0', dataset: { filename: file.name }, 'aria-label': `Upload of ${file.name}` });
    const status = h('span', { class: 'upload-status', text: 'Waiting…' });
    const cancel = h('button', {
      type: 'button', class: 'btn btn-ghost btn-small', text: 'Cancel', 'aria-label': `Cancel the upload of ${file.name}`,
    });
    const li = h('li', { class: 'upload', dataset: { filename: file.name, state: 'queued' } },
      h('div', { class: 'upload-head' },
        h('span', { class: 'upload-name', text: file.name }),
        h('span', { class: 'upload-size', text: fmtBytes(file.size) }),
        status,
        cancel),
      progress);
    let cancelled = false;
    let abort = null;
    const item = { li, run, cancel: () => cancelUpload() };
    function set(name, text) {
      li.dataset.state = name;
      status.textContent = text;
    }
    function finish(name, text) {
      set(name, text);
      cancel.hidden = true;
      li.classList.add(`upload-${name}`);
    }
    function cancelUpload() {
      cancelled = true;
      if (abort) abort();
      const i = queue.indexOf(item);
      if (i >= 0) {
        queue.splice(i, 1);
        finish('cancelled', 'Cancelled');
      }
    }
    cancel.addEventListener('click', cancelUpload);
    async function run() {
      if (cancelled) return;
      try {
        set('hashing', 'Computing the checksum…');
        const sha = await fileSha256(file, (done, total) => {
          set('hashing', `Computing the checksum… ${Math.floor((done / total) * 100)} %`);
        });
        if (cancelled) throw new api.ApiError(0, 'aborted', 'cancelled');
        li.dataset.sha256 = sha;
        set('checking', 'Checking the library…');
        if (await api.hasMedia(sha)) {
          progress.value = 100;
          finish('exists', 'Already in the library');
          await reload();
          return;
        }
        if (cancelled) throw new api.ApiError(0, 'aborted', 'cancelled');
        const used = Number(library.used_bytes) || 0;
        const quota = Number(library.quota_bytes) || 0;
        if (quota > 0 && used + file.size > quota) {
          throw new api.ApiError(413, 'quota_exceeded', 'over quota', { size: file.size, used, quota });
        }
        set('uploading', 'Uploading… 0 %');
        const up = api.uploadMedia(sha, file, {
          onProgress: (sent, total) => {
            const pct = total > 0 ? Math.min(100, (sent / total) * 100) : 100;
            progress.value = pct;
            set('uploading', pct >= 100 ? 'Processing…' : `Uploading… ${Math.floor(pct)} %`);
          },
        });
        abort = up.abort;
        const res = await up.promise;
        abort = null;
        progress.value = 100;
        finish('done', res.status === 201 ? 'Uploaded' : 'Already in the library');
        await reload();
      } catch (err) {
        abort = null;
        if (cancelled || err.code === 'aborted') {
          finish('cancelled', 'Cancelled');
          return;
        }
        finish('failed', uploadErrorText(err));
        status.setAttribute('role', 'alert');
      }
    }
    return item;
  }

  function enqueue(files) {
    for (const file of files) {
      const item = uploadItem(file);
      uploads.append(item.li);
      queue.push(item);
    }
    if (!running) {
      running = (async () => {
        while (queue.length && !stale()) {
          current = queue.shift();
          await current.run();
        }
        current = null;
      })().finally(() => { running = null; });
    }
  }

  fileInput.addEventListener('change', () => {
    const files = [...fileInput.files];
    fileInput.value = '';
    if (files.length) enqueue(files);
  });
  drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
    drop.classList.add('dropzone-over');
  });
  drop.addEventListener('dragleave', (ev) => {
    if (!drop.contains(ev.relatedTarget)) drop.classList.remove('dropzone-over');
  });
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('dropzone-over');
    const files = ev.dataTransfer ? [...ev.dataTransfer.files] : [];
    if (files.length) enqueue(files);
  });
  // a file dropped next to the zone must not make the browser leave the console
  const guard = (ev) => {
    if (ev.dataTransfer && [...ev.dataTransfer.types].includes('Files')) ev.preventDefault();
  };
  const beforeUnload = (ev) => {
    if (running) {
      ev.preventDefault();
      ev.returnValue = '';
    }
  };
  window.addEventListener('dragover', guard);
  window.addEventListener('drop', guard);
  window.addEventListener('beforeunload', beforeUnload);
  state.cleanup.push(() => {
    window.removeEventListener('dragover', guard);
    window.removeEventListener('drop', guard);
    window.removeEventListener('beforeunload', beforeUnload);
    queue.length = 0;
    if (current) current.cancel();
  });

  await table.reload();
  if (stale()) return h('div');

  return h('div', { class: 'page media-page' },
    pageHeader('Media library'),
    h('div', { class: 'media-top' },
      h('section', { class: 'card', 'aria-labelledby': 'card-upload' },
        h('h2', { id: 'card-upload', text: 'Upload' }),
        drop,
        uploads),
      h('section', { class: 'card', 'aria-labelledby': 'card-storage' },
        h('h2', { id: 'card-storage', text: 'Storage' }),
        quotaBar,
        quotaText,
        h('p', { class: 'hint', text: 'Each file counts once, however many channels play it.' }))),
    h('section', { class: 'card', 'aria-labelledby': 'card-library' },
      h('div', { class: 'card-head' }, h('h2', { id: 'card-library', text: 'Library' }), summary),
      h('div', { class: 'toolbar filters' },
        h('div', { class: 'toolbar-search' }, search),
        kindSelect,
        tagSelect),
      tableWrap(table.table, 'Media library'),
      table.pager));
}
