// The proactive invitations (campaigns) on the "Predefined texts and forms"
// page (views/chat-tools.js): the list with what came of them (shown,
// accepted, declined; once per visitor) and the form to add or change one.
// A campaign invites the visitors of a site whose page (path and query)
// matches its pattern, after their seconds on the page, to chat with one of
// the site's departments while an operator of it is online.

import * as chat from './api.js';
import { busy, card, emptyRow, errorText, field, h, headRow, labelledRow, setError, tableWrap, toast } from '../dom.js';

const COLS = ['Name', 'Site', 'Pages', 'After', 'Shown / accepted / declined', 'Enabled', 'Actions'];

/** The two cards; they load their own data. */
export async function campaignCards() {
  let campaigns = [];
  let sites = [];
  let departments = [];
  let editing = null;

  const body = h('tbody');
  const table = h('table', { id: 'campaigns-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Invitations' }), headRow(COLS, true), body);
  const name = h('input', { id: 'campaign-name', type: 'text', required: true, maxlength: '200', autocomplete: 'off' });
  const site = h('select', { id: 'campaign-site', required: true });
  const dep = h('select', { id: 'campaign-department', required: true });
  const pattern = h('input', { id: 'campaign-pattern', type: 'text', required: true, maxlength: '500', value: '/*',
    autocomplete: 'off', spellcheck: 'false' });
  const seconds = h('input', { id: 'campaign-seconds', type: 'number', min: '0', max: '3600', value: '30',
    class: 'input-narrow', required: true });
  const message = h('textarea', { id: 'campaign-message', rows: '2', maxlength: '500', required: true });
  const enabled = h('input', { id: 'campaign-enabled', type: 'checkbox', checked: true });
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { id: 'campaign-submit', type: 'submit', class: 'btn btn-primary',
    text: 'Add invitation' });
  const cancel = h('button', { id: 'campaign-cancel', type: 'button', class: 'btn', text: 'Cancel', hidden: true });
  const form = h('form', { id: 'campaign-form', class: 'form-stack' },
    field('Name (for you)', name), field('Site', site), field('Department the visitor chats with', dep),
    field('Pages (path and query; * matches anything)', pattern, 'e.g. /pricing* or /products/*?ref=mail*'),
    field('After this many seconds on the page', seconds), field('Invitation', message),
    h('label', { class: 'check', for: 'campaign-enabled' }, enabled, ' Enabled'),
    err, h('div', { class: 'form-actions' }, submit, cancel));

  function fillDepartments() {
    const chosen = dep.value;
    dep.replaceChildren(...departments.filter((d) => (d.site_ids || []).includes(site.value))
      .map((d) => h('option', { value: d.id, text: d.name, selected: d.id === chosen })));
  }
  site.addEventListener('change', fillDepartments);

  function stopEditing() {
    editing = null;
    form.reset();
    pattern.value = '/*';
    seconds.value = '30';
    enabled.checked = true;
    submit.textContent = 'Add invitation';
    cancel.hidden = true;
    fillDepartments();
  }
  cancel.addEventListener('click', stopEditing);

  function edit(c) {
    editing = c;
    name.value = c.name;
    site.value = c.site_id;
    fillDepartments();
    dep.value = c.department_id;
    pattern.value = c.url_pattern;
    seconds.value = String(c.seconds_on_page);
    message.value = c.message;
    enabled.checked = c.enabled;
    submit.textContent = 'Save invitation';
    cancel.hidden = false;
    name.focus();
  }

  function fill() {
    body.replaceChildren();
    if (!campaigns.length) body.append(emptyRow(COLS.length, 'No invitation yet.'));
    for (const c of campaigns) {
      const editBtn = h('button', { type: 'button', class: 'btn btn-small', text: 'Edit' });
      editBtn.addEventListener('click', () => edit(c));
      const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete' });
      del.addEventListener('click', () => busy(del, async () => {
        if (!window.confirm(`Delete the invitation "${c.name}"?`)) return;
        try {
          await chat.deleteCampaign(c.id);
          await reload();
        } catch (e) {
          toast(errorText(e), 'error');
        }
      }));
      body.append(labelledRow(COLS, { dataset: { id: c.id, name: c.name } },
        h('td', { class: 'cell-strong', text: c.name }),
        h('td', { text: (sites.find((s) => s.id === c.site_id) || {}).name || c.site_id }),
        h('td', { class: 'wrap-anywhere', text: c.url_pattern }),
        h('td', { text: `${c.seconds_on_page} s` }),
        h('td', { class: 'num campaign-counts', text: `${c.shown} / ${c.accepted} / ${c.declined}` }),
        h('td', { text: c.enabled ? 'yes' : 'no' }),
        h('td', { class: 'col-actions' }, editBtn, del)));
    }
  }

  async function reload() {
    const [c, s, d] = await Promise.all([chat.listCampaigns(), chat.listSites(), chat.listDepartments()]);
    campaigns = c.campaigns || [];
    sites = s.sites || [];
    departments = d.departments || [];
    const chosen = site.value;
    site.replaceChildren(...sites.map((x) => h('option', { value: x.id, text: x.name, selected: x.id === chosen })));
    fillDepartments();
    fill();
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setError(err, null);
    busy([submit, cancel], async () => {
      const fields = {
        name: name.value.trim(), site_id: site.value, department_id: dep.value, url_pattern: pattern.value.trim(),
        seconds_on_page: Number(seconds.value), message: message.value.trim(), enabled: enabled.checked,
      };
      try {
        if (editing) await chat.updateCampaign(editing.id, fields);
        else await chat.createCampaign(fields);
        toast(`Invitation "${fields.name}" ${editing ? 'saved' : 'added'}.`);
        stopEditing();
        await reload();
      } catch (e) {
        setError(err, e);
      }
    });
  });

  await reload();
  return [
    card('Invitations (campaigns)',
      h('p', { class: 'hint', text: 'The chat invites a visitor of a matching page after the seconds given, while '
        + 'an operator of the department is online. A visitor who declines is not invited again in that tab.' }),
      tableWrap(table, 'Invitations')),
    card('Add or edit an invitation', form),
  ];
}
