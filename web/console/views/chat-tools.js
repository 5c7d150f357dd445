// The live chat's operator tools (#/chat-tools, admins): the predefined texts
// (a shortcut the operator types as "/shortcut", a title, the text, for one
// department or all of them) and the forms an operator pushes into a chat (a
// name, an introduction, 1 to 20 typed fields), and the proactive
// invitations (chat/campaigns.js). The server checks every
// field and its messages are shown as they come (docs/PROTOCOL.md "Operator
// tools: predefined texts, forms, redirect").

import * as chat from '../chat/api.js';
import { campaignCards } from '../chat/campaigns.js';
import {
  busy, card, emptyRow, errorText, field, h, headRow, labelledRow, pageHeader, setError, tableWrap, toast,
} from '../dom.js';

const TEXT_PREVIEW = 120;
const FIELD_TYPES = ['text', 'email', 'tel', 'number', 'textarea', 'select', 'checkbox'];
const MAX_FIELDS = 20;

/** The first n characters of a text (whole code points), with "…" when cut. */
function preview(text, n) {
  const chars = [...(text || '')];
  return chars.length > n ? `${chars.slice(0, n).join('')}…` : chars.join('');
}

function splitOptions(text) {
  return text.split(',').map((o) => o.trim()).filter(Boolean);
}

export async function renderChatTools() {
  let canned = [];
  let forms = [];
  let departments = [];
  let editingCanned = null; // the predefined text in the form, when editing
  let editingForm = null; // the form in the editor, when editing

  const cannedBody = h('tbody');
  const CANNED_COLS = ['Shortcut', 'Title', 'Text', 'Department', 'Actions'];
  const cannedTable = h('table', { id: 'canned-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Predefined texts' }), headRow(CANNED_COLS, true), cannedBody);
  const formsBody = h('tbody');
  const FORM_COLS = ['Name', 'Fields', 'Actions'];
  const formsTable = h('table', { id: 'forms-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Forms' }), headRow(FORM_COLS, true), formsBody);

  const depName = (id) => {
    if (!id) return 'All';
    return (departments.find((d) => d.id === id) || {}).name || id;
  };

  // ------------------------------------------------------------ predefined texts

  const shortcutInput = h('input', { id: 'canned-shortcut', type: 'text', required: true, maxlength: '40',
    autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. hello' });
  const titleInput = h('input', { id: 'canned-title', type: 'text', required: true, maxlength: '200',
    autocomplete: 'off' });
  const textInput = h('textarea', { id: 'canned-text', required: true, rows: '4', maxlength: '4000' });
  const depSelect = h('select', { id: 'canned-department' });
  const cannedErr = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const cannedSubmit = h('button', { id: 'canned-submit', type: 'submit', class: 'btn btn-primary',
    text: 'Add predefined text' });
  const cannedCancel = h('button', { id: 'canned-cancel', type: 'button', class: 'btn', text: 'Cancel', hidden: true });
  const cannedEditing = h('p', { id: 'canned-editing', class: 'hint', hidden: true });
  const cannedForm = h('form', { id: 'canned-form', class: 'form-stack' },
    cannedEditing,
    field('Shortcut', shortcutInput, 'Typed as /shortcut in a chat: 1 to 40 of a-z, 0-9, "-" and "_".'),
    field('Title', titleInput),
    field('Text', textInput, 'Links (http and https) become clickable in the chat.'),
    field('Department', depSelect),
    cannedErr, h('div', { class: 'form-actions' }, cannedSubmit, ' ', cannedCancel));

  function fillDepartmentChoices() {
    const chosen = depSelect.value;
    depSelect.replaceChildren(h('option', { value: '', text: 'All departments' }),
      ...departments.map((d) => h('option', { value: d.id, text: d.name })));
    depSelect.value = departments.some((d) => d.id === chosen) ? chosen : '';
  }

  function stopEditingCanned() {
    editingCanned = null;
    cannedForm.reset();
    depSelect.value = '';
    cannedSubmit.textContent = 'Add predefined text';
    cannedCancel.hidden = true;
    cannedEditing.hidden = true;
    cannedEditing.textContent = '';
    setError(cannedErr, null);
  }

  function editCanned(c) {
    editingCanned = c;
    setError(cannedErr, null);
    shortcutInput.value = c.shortcut || '';
    titleInput.value = c.title || '';
    textInput.value = c.text || '';
    depSelect.value = departments.some((d) => d.id === c.department_id) ? c.department_id : '';
    cannedSubmit.textContent = 'Save';
    cannedCancel.hidden = false;
    cannedEditing.textContent = `Editing the predefined text /${c.shortcut}.`;
    cannedEditing.hidden = false;
    cannedForm.scrollIntoView({ block: 'nearest' });
    shortcutInput.focus();
  }

  cannedCancel.addEventListener('click', () => stopEditingCanned());

  function fillCanned() {
    cannedBody.replaceChildren();
    if (!canned.length) cannedBody.append(emptyRow(5, 'No predefined text yet.'));
    for (const c of canned) {
      const edit = h('button', { type: 'button', class: 'btn btn-small', text: 'Edit',
        'aria-label': `Edit the predefined text /${c.shortcut}` });
      edit.addEventListener('click', () => editCanned(c));
      const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete',
        'aria-label': `Delete the predefined text /${c.shortcut}` });
      del.addEventListener('click', () => busy(del, async () => {
        if (!window.confirm(`Delete the predefined text /${c.shortcut}?`)) return;
        try {
          await chat.deleteCanned(c.id);
          if (editingCanned && editingCanned.id === c.id) stopEditingCanned();
          toast(`Predefined text /${c.shortcut} deleted.`);
          await reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
      cannedBody.append(labelledRow(CANNED_COLS, { dataset: { id: c.id, name: c.shortcut } },
        h('td', { class: 'cell-strong', text: `/${c.shortcut}` }),
        h('td', { text: c.title }),
        h('td', { text: preview(c.text, TEXT_PREVIEW) }),
        h('td', { text: depName(c.department_id) }),
        h('td', { class: 'col-actions' }, h('div', { class: 'row-actions' }, edit, del))));
    }
  }

  cannedForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setError(cannedErr, null);
    busy([cannedSubmit, cannedCancel], async () => {
      const body = {
        shortcut: shortcutInput.value.trim(),
        title: titleInput.value.trim(),
        text: textInput.value,
        department_id: depSelect.value || null,
      };
      try {
        if (editingCanned) {
          await chat.updateCanned(editingCanned.id, body);
          toast(`Predefined text /${body.shortcut} saved.`);
        } else {
          await chat.createCanned(body);
          toast(`Predefined text /${body.shortcut} added.`);
        }
        stopEditingCanned();
        await reload();
      } catch (err) {
        setError(cannedErr, err);
      }
    });
  });

  // ------------------------------------------------------------ forms

  let rowCount = 0; // for unique ids of the field rows
  const readers = new WeakMap(); // field row -> () => the field it describes
  const fieldRows = h('div', { id: 'form-fields', class: 'stack' });
  const formName = h('input', { id: 'form-name', type: 'text', required: true, maxlength: '200', autocomplete: 'off',
    placeholder: 'e.g. Contact details' });
  const formIntro = h('textarea', { id: 'form-intro', rows: '2' });
  const addField = h('button', { id: 'form-add-field', type: 'button', class: 'btn', text: 'Add a field' });
  const formErr = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const formSubmit = h('button', { id: 'form-submit', type: 'submit', class: 'btn btn-primary', text: 'Add form' });
  const formCancel = h('button', { id: 'form-cancel', type: 'button', class: 'btn', text: 'Cancel', hidden: true });
  const formEditing = h('p', { id: 'form-editing', class: 'hint', hidden: true });
  const formForm = h('form', { id: 'form-form', class: 'form-stack' },
    formEditing,
    field('Name', formName),
    field('Introduction', formIntro, 'Shown to the visitor above the fields (optional).'),
    h('fieldset', { class: 'field' }, h('legend', { text: 'Fields' }),
      h('p', { class: 'hint', text: 'A field name is 1 to 40 of a-z, 0-9 and "_", unique in the form; '
        + 'the options of a list are separated by commas.' }),
      fieldRows, h('div', {}, addField)),
    formErr, h('div', { class: 'form-actions' }, formSubmit, ' ', formCancel));

  function syncAddField() {
    addField.disabled = fieldRows.children.length >= MAX_FIELDS;
  }

  /** A row of the field list; f: a field of the server's form, or nothing for an empty one. */
  function addFieldRow(f = {}) {
    rowCount += 1;
    const p = `form-field-${rowCount}`;
    const name = h('input', { id: `${p}-name`, class: 'field-name', type: 'text', value: f.name || '',
      maxlength: '40', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. email' });
    const label = h('input', { id: `${p}-label`, class: 'field-label', type: 'text', value: f.label || '',
      maxlength: '200', autocomplete: 'off', placeholder: 'e.g. Your e-mail address' });
    const type = h('select', { id: `${p}-type`, class: 'field-type' },
      FIELD_TYPES.map((t) => h('option', { value: t, text: t, selected: t === (f.type || 'text') })));
    const required = h('input', { id: `${p}-required`, class: 'field-required', type: 'checkbox',
      checked: Boolean(f.required) });
    const options = h('input', { id: `${p}-options`, class: 'field-options', type: 'text',
      value: (f.options || []).join(', '), autocomplete: 'off', placeholder: 'e.g. Sales, Support' });
    const optionsField = field('Options (comma-separated)', options);
    const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger field-remove', text: 'Remove',
      'aria-label': 'Remove this field' });
    const row = h('fieldset', { class: 'form-inline form-field-row' },
      h('legend', { class: 'visually-hidden', text: 'A field' }),
      field('Name', name), field('Label', label), field('Type', type),
      h('label', { class: 'check', for: required.id }, required, ' Required'),
      optionsField, h('div', { class: 'field field-button' }, remove));
    const syncOptions = () => { optionsField.hidden = type.value !== 'select'; };
    type.addEventListener('change', syncOptions);
    syncOptions();
    remove.addEventListener('click', () => {
      row.remove();
      syncAddField();
      addField.focus();
    });
    readers.set(row, () => {
      const out = { name: name.value.trim(), label: label.value.trim(), type: type.value, required: required.checked };
      if (type.value === 'select') out.options = splitOptions(options.value);
      return out;
    });
    fieldRows.append(row);
    syncAddField();
    return row;
  }

  addField.addEventListener('click', () => {
    const row = addFieldRow();
    row.querySelector('.field-name').focus();
  });

  function stopEditingForm() {
    editingForm = null;
    formForm.reset();
    fieldRows.replaceChildren();
    addFieldRow();
    formSubmit.textContent = 'Add form';
    formCancel.hidden = true;
    formEditing.hidden = true;
    formEditing.textContent = '';
    setError(formErr, null);
  }

  function editForm(f) {
    editingForm = f;
    setError(formErr, null);
    formName.value = f.name || '';
    formIntro.value = f.intro || '';
    fieldRows.replaceChildren();
    for (const x of f.fields || []) addFieldRow(x);
    if (!fieldRows.children.length) addFieldRow();
    formSubmit.textContent = 'Save';
    formCancel.hidden = false;
    formEditing.textContent = `Editing the form "${f.name}".`;
    formEditing.hidden = false;
    formForm.scrollIntoView({ block: 'nearest' });
    formName.focus();
  }

  formCancel.addEventListener('click', () => stopEditingForm());

  function fillForms() {
    formsBody.replaceChildren();
    if (!forms.length) formsBody.append(emptyRow(3, 'No form yet.'));
    for (const f of forms) {
      const edit = h('button', { type: 'button', class: 'btn btn-small', text: 'Edit',
        'aria-label': `Edit the form ${f.name}` });
      edit.addEventListener('click', () => editForm(f));
      const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete',
        'aria-label': `Delete the form ${f.name}` });
      del.addEventListener('click', () => busy(del, async () => {
        if (!window.confirm(`Delete the form "${f.name}"? Chats it was sent into keep their copy.`)) return;
        try {
          await chat.deleteForm(f.id);
          if (editingForm && editingForm.id === f.id) stopEditingForm();
          toast(`Form "${f.name}" deleted.`);
          await reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
      formsBody.append(labelledRow(FORM_COLS, { dataset: { id: f.id, name: f.name } },
        h('td', { class: 'cell-strong', text: f.name }),
        h('td', { text: (f.fields || []).map((x) => x.label).join(', ') }),
        h('td', { class: 'col-actions' }, h('div', { class: 'row-actions' }, edit, del))));
    }
  }

  formForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setError(formErr, null);
    busy([formSubmit, formCancel], async () => {
      const body = {
        name: formName.value.trim(),
        intro: formIntro.value,
        fields: [...fieldRows.children].map((row) => readers.get(row)()),
      };
      try {
        if (editingForm) {
          await chat.updateForm(editingForm.id, body);
          toast(`Form "${body.name}" saved.`);
        } else {
          await chat.createForm(body);
          toast(`Form "${body.name}" added.`);
        }
        stopEditingForm();
        await reload();
      } catch (err) {
        setError(formErr, err);
      }
    });
  });

  async function reload() {
    const [c, f, d] = await Promise.all([chat.listCanned(), chat.listForms(), chat.listDepartments()]);
    canned = c.canned || c.items || [];
    forms = f.forms || f.items || [];
    departments = d.departments || d.items || [];
    fillDepartmentChoices();
    fillCanned();
    fillForms();
  }

  addFieldRow();
  const [, invitations] = await Promise.all([reload(), campaignCards()]);
  return h('div', { class: 'page' },
    pageHeader('Predefined texts and forms',
      h('a', { href: '#/sites', id: 'chat-sites-back', class: 'btn btn-small', text: 'Sites and departments' })),
    card('Predefined texts',
      h('p', { class: 'hint', text: 'In a chat, an operator types /shortcut then Tab to put the text into the '
        + 'message box; it is sent as an ordinary message.' }),
      tableWrap(cannedTable, 'Predefined texts')),
    card('Add or edit a predefined text', cannedForm),
    card('Forms',
      h('p', { class: 'hint', text: 'An operator sends a form into a chat; the visitor answers it once.' }),
      tableWrap(formsTable, 'Forms')),
    card('Add or edit a form', formForm),
    ...invitations);
}
