// The live chat's admin page (#/sites, admins): the web sites with their
// allowed domains and the snippet to copy into their pages, the departments
// (sites, automatic assignment, reassignment delay, calls, where offline
// messages are mailed, operators) and each
// operator's capacity (concurrent chats).

import * as api from '../api.js';
import * as chat from '../chat/api.js';
import {
  busy, card, emptyRow, errorText, field, h, headRow, labelledRow, pageHeader, setError, tableWrap, toast,
} from '../dom.js';

/** The snippet of a site: the server's own when it gave one. */
function snippetOf(site, given) {
  if (given) return given;
  if (site.snippet) return site.snippet;
  return `<script src="${location.origin}/widget.js" data-site="${site.id}" async></script>`;
}

const CALLS = [['video', 'Audio and video calls'], ['audio', 'Audio calls only'], ['off', 'No calls']];

function callsSelect(value, label) {
  return h('select', label ? { 'aria-label': label } : {},
    CALLS.map(([v, t]) => h('option', { value: v, text: t, selected: v === value })));
}

function splitDomains(text) {
  return text.split(/[\s,]+/).map((d) => d.trim().toLowerCase()).filter(Boolean);
}

function copyBox(id, value, label) {
  const input = h('input', { id, class: 'secret-value', type: 'text', value, readOnly: true, 'aria-label': label,
    spellcheck: 'false' });
  const btn = h('button', { type: 'button', class: 'btn btn-small', text: 'Copy' });
  btn.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value);
      btn.textContent = 'Copied';
    } catch {
      input.focus();
      input.select();
      btn.textContent = 'Select and copy';
    }
    setTimeout(() => { btn.textContent = 'Copy'; }, 2000);
  });
  return h('div', { class: 'secret-row' }, input, btn);
}

export async function renderChatSites() {
  const snippets = new Map(); // site id -> snippet from its creation
  let sites = [];
  let departments = [];
  let operators = [];

  const siteBody = h('tbody');
  const SITE_COLS = ['Site', 'Domains', 'Snippet', 'Actions'];
  const siteTable = h('table', { id: 'sites-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Web sites with live chat' }), headRow(SITE_COLS, true), siteBody);
  const depBody = h('tbody');
  const DEP_COLS = ['Department', 'Sites', 'Assignment', 'Calls', 'Offline messages to', 'Operators', 'Actions'];
  const depTable = h('table', { id: 'departments-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Chat departments' }), headRow(DEP_COLS, true), depBody);
  const opBody = h('tbody');
  const OP_COLS = ['Operator', 'Role', 'Capacity'];
  const opTable = h('table', { id: 'operators-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Operators and their capacity' }), headRow(OP_COLS), opBody);

  const siteName = (id) => (sites.find((s) => s.id === id) || {}).name || id;

  function fillSites() {
    siteBody.replaceChildren();
    if (!sites.length) siteBody.append(emptyRow(4, 'No site yet: add one to get its snippet.'));
    for (const s of sites) {
      const domains = h('input', { type: 'text', value: (s.domains || []).join(' '), 'aria-label': `Domains of ${s.name}`,
        class: 'site-domains', spellcheck: 'false' });
      const save = h('button', { type: 'button', class: 'btn btn-small', text: 'Save domains' });
      save.addEventListener('click', () => busy(save, async () => {
        try {
          await chat.updateSite(s.id, { domains: splitDomains(domains.value) });
          toast(`Domains of "${s.name}" saved.`);
          await reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
      const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete',
        'aria-label': `Delete the site ${s.name}` });
      del.addEventListener('click', () => busy(del, async () => {
        if (!window.confirm(`Delete the site "${s.name}"? Its call button disappears from its pages.`)) return;
        try {
          await chat.deleteSite(s.id);
          toast(`Site "${s.name}" deleted.`);
          await reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
      siteBody.append(labelledRow(SITE_COLS, { dataset: { id: s.id, name: s.name } },
        h('td', { class: 'cell-strong', text: s.name }),
        h('td', {}, domains, save),
        h('td', {}, copyBox(`snippet-${s.id}`, snippetOf(s, snippets.get(s.id)), `Snippet of ${s.name}`)),
        h('td', { class: 'col-actions' }, del)));
    }
  }

  function fillDepartments() {
    depBody.replaceChildren();
    if (!departments.length) depBody.append(emptyRow(DEP_COLS.length, 'No department yet.'));
    for (const d of departments) {
      const current = new Set(d.user_ids || (d.operators || []).map((u) => u.id));
      const boxes = operators.map((u) => {
        const box = h('input', { type: 'checkbox', value: u.id, checked: current.has(u.id),
          id: `dep-${d.id}-op-${u.id}` });
        return { box, label: h('label', { class: 'check', for: box.id }, box, ` ${u.name || u.login}`) };
      });
      const saveOps = h('button', { type: 'button', class: 'btn btn-small', text: 'Save operators' });
      saveOps.addEventListener('click', () => busy(saveOps, async () => {
        try {
          await chat.setDepartmentOperators(d.id, boxes.filter((b) => b.box.checked).map((b) => b.box.value));
          toast(`Operators of "${d.name}" saved.`);
          await reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
      const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete',
        'aria-label': `Delete the department ${d.name}` });
      del.addEventListener('click', () => busy(del, async () => {
        if (!window.confirm(`Delete the department "${d.name}"?`)) return;
        try {
          await chat.deleteDepartment(d.id);
          await reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
      const offlineMail = h('input', { type: 'email', maxlength: '254', value: d.offline_email || '', class: 'input-narrow',
        placeholder: 'console only', 'aria-label': `Where messages left for ${d.name} are mailed` });
      const saveMail = h('button', { type: 'button', class: 'btn btn-small', text: 'Save' });
      saveMail.addEventListener('click', () => busy(saveMail, async () => {
        try {
          await chat.updateDepartment(d.id, { offline_email: offlineMail.value.trim() });
          toast(`Offline messages of ${d.name} go to ${offlineMail.value.trim() || 'the console only'}.`);
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
      const calls = callsSelect(d.calls || 'video', `Calls in ${d.name}`);
      calls.addEventListener('change', () => busy(calls, async () => {
        try {
          await chat.updateDepartment(d.id, { calls: calls.value });
          toast(`${d.name}: ${CALLS.find(([v]) => v === calls.value)[1].toLowerCase()}.`);
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
      const assign = d.auto_assign ? 'automatic' : 'operators pick up';
      const reassign = Number(d.reassign_after_s) > 0 ? `, requeued after ${d.reassign_after_s} s without reply` : '';
      depBody.append(labelledRow(DEP_COLS, { dataset: { id: d.id, name: d.name } },
        h('td', { class: 'cell-strong', text: d.name }),
        h('td', { text: (d.site_ids || []).map(siteName).join(', ') || '—' }),
        h('td', { text: assign + reassign }),
        h('td', {}, calls),
        h('td', {}, h('div', { class: 'secret-row' }, offlineMail, saveMail)),
        h('td', {}, h('div', { class: 'check-list' }, boxes.map((b) => b.label)),
          operators.length ? saveOps : h('span', { class: 'hint', text: 'No user has the role operator yet.' })),
        h('td', { class: 'col-actions' }, del)));
    }
  }

  function fillOperators() {
    opBody.replaceChildren();
    if (!operators.length) opBody.append(emptyRow(3, 'No operator yet: give users the role “operator” on the Users page.'));
    for (const u of operators) {
      const cap = h('input', { type: 'number', min: '1', max: '50', value: String(u.capacity || 3),
        'aria-label': `Capacity of ${u.name || u.login}`, class: 'input-narrow' });
      const save = h('button', { type: 'button', class: 'btn btn-small', text: 'Save' });
      save.addEventListener('click', () => busy(save, async () => {
        try {
          await chat.setOperatorCapacity(u.id, Number(cap.value));
          toast(`Capacity of ${u.name || u.login} saved.`);
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
      opBody.append(labelledRow(OP_COLS, { dataset: { id: u.id } },
        h('td', { class: 'cell-strong', text: u.name || u.login }),
        h('td', { text: u.role }),
        h('td', {}, cap, ' ', save)));
    }
  }

  function fillSiteChoices() {
    depSites.replaceChildren(...sites.map((s) => {
      const box = h('input', { type: 'checkbox', value: s.id, id: `new-dep-site-${s.id}` });
      return h('label', { class: 'check', for: box.id }, box, ` ${s.name}`);
    }));
  }

  async function reload() {
    const [s, d, u] = await Promise.all([
      chat.listSites(), chat.listDepartments(), api.listUsers().catch(() => ({ users: [] })),
    ]);
    sites = s.sites || s.items || [];
    departments = d.departments || d.items || [];
    const caps = new Map();
    for (const dep of departments) for (const o of dep.operators || []) caps.set(o.id, o.capacity);
    operators = (u.users || []).filter((x) => x.role === 'operator' || x.role === 'admin')
      .map((x) => ({ ...x, capacity: caps.get(x.id) || x.capacity }));
    fillSites();
    fillDepartments();
    fillOperators();
    fillSiteChoices();
  }

  // add a site
  const nameInput = h('input', { id: 'site-name', type: 'text', required: true, maxlength: '200', autocomplete: 'off',
    placeholder: 'e.g. Shop' });
  const domainsInput = h('input', { id: 'site-domains', type: 'text', required: true, autocomplete: 'off',
    spellcheck: 'false', placeholder: 'shop.example www.shop.example' });
  const siteErr = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const siteSubmit = h('button', { id: 'site-create-submit', type: 'submit', class: 'btn btn-primary', text: 'Add site' });
  const newSnippet = h('div', { id: 'site-snippet-slot' });
  const siteForm = h('form', { id: 'site-create-form', class: 'form-inline' },
    field('Name', nameInput),
    field('Domains', domainsInput, 'Host names, with a port when not 80/443, separated by spaces.'),
    h('div', { class: 'field field-button' }, siteSubmit), siteErr);
  siteForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setError(siteErr, null);
    busy(siteSubmit, async () => {
      try {
        const res = await chat.createSite({ name: nameInput.value.trim(), domains: splitDomains(domainsInput.value) });
        const site = res.site || {};
        snippets.set(site.id, res.snippet);
        siteForm.reset();
        newSnippet.replaceChildren(h('div', { class: 'secret-panel', role: 'region', 'aria-label': 'Snippet' },
          h('strong', { text: `Paste this into the pages of "${site.name}", before </body>:` }),
          copyBox('new-site-snippet', snippetOf(site, res.snippet), 'Snippet')));
        await reload();
      } catch (err) {
        setError(siteErr, err);
      }
    });
  });

  // add a department
  const depName = h('input', { id: 'dep-name', type: 'text', required: true, maxlength: '200', autocomplete: 'off' });
  const depSites = h('div', { id: 'dep-sites', class: 'check-list' });
  const depAuto = h('input', { id: 'dep-auto', type: 'checkbox' });
  const depReassign = h('input', { id: 'dep-reassign', type: 'number', min: '0', max: '86400', value: '0',
    class: 'input-narrow' });
  const depMail = h('input', { id: 'dep-offline-email', type: 'email', maxlength: '254', autocomplete: 'off' });
  const depCalls = callsSelect('video');
  depCalls.id = 'dep-calls';
  const depErr = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const depSubmit = h('button', { id: 'dep-create-submit', type: 'submit', class: 'btn btn-primary', text: 'Add department' });
  const depForm = h('form', { id: 'dep-create-form', class: 'form-stack' },
    field('Name', depName),
    h('fieldset', { class: 'field' }, h('legend', { text: 'Sites' }), depSites),
    h('label', { class: 'check', for: 'dep-auto' }, depAuto, ' Assign chats automatically to the least busy operator'),
    field('Requeue after (seconds without an operator reply, 0 = never)', depReassign),
    field('Audio and video calls', depCalls),
    field('Mail messages left while no operator is online to', depMail,
      'Empty: they are kept for the console only. Needs the server\'s smtp_url.'),
    depErr, h('div', { class: 'form-actions' }, depSubmit));
  depForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setError(depErr, null);
    busy(depSubmit, async () => {
      try {
        await chat.createDepartment({
          name: depName.value.trim(),
          site_ids: [...depSites.querySelectorAll('input:checked')].map((b) => b.value),
          auto_assign: depAuto.checked,
          reassign_after_s: Math.max(0, Number(depReassign.value) || 0),
          offline_email: depMail.value.trim(),
          calls: depCalls.value,
        });
        depForm.reset();
        await reload();
      } catch (err) {
        setError(depErr, err);
      }
    });
  });

  await reload();
  return h('div', { class: 'page' },
    pageHeader('Chat sites',
      h('a', { href: '#/chat-tools', id: 'chat-tools-link', class: 'btn btn-small',
        text: 'Predefined texts and forms' })),
    card('Add a web site',
      h('p', { class: 'hint', text: 'The call button appears only on pages of these domains.' }),
      siteForm, newSnippet),
    card('Web sites', tableWrap(siteTable, 'Web sites')),
    card('Add a department', depForm),
    card('Departments', tableWrap(depTable, 'Departments')),
    card('Operators', tableWrap(opTable, 'Operators')));
}
