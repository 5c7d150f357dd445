// The Content card of a screen's page: its default channel, play now and
// the content version it runs.

import * as api from '../api.js';
import { isAdmin, isEditor } from '../session.js';
import { busy, errorText, field, h, toast } from '../dom.js';
import { fmtTime } from '../format.js';

/** The "Content" card of a screen: default channel, play now, manifest version. */
export function screenContentCard(screenId, channels, getScreen, reload) {
  const names = new Map(channels.map((c) => [c.id, c.name]));
  const canEditContent = isAdmin() || isEditor();
  const channelRef = (cid) => {
    if (!cid) return null;
    if (!names.has(cid)) return h('span', { class: 'mono', text: cid });
    return canEditContent ? h('a', { href: `#/channels/${encodeURIComponent(cid)}`, text: names.get(cid) }) : names.get(cid);
  };
  const currentDd = h('dd', { id: 'screen-channel-current' });
  const playDd = h('dd', { id: 'screen-play-now' });
  const versionDd = h('dd', { id: 'screen-manifest-version' });
  const list = h('dl', { class: 'kv kv-compact' },
    h('dt', { text: 'Default channel' }), currentDd,
    h('dt', { text: 'Play now' }), playDd,
    h('dt', { text: 'Content version' }), versionDd);
  const admin = isAdmin();
  let select = null;
  let shown = null; // the channel last written into the select
  let stop = null;
  const forms = [];

  if (admin) {
    const options = () => channels.map((c) => h('option', { value: c.id, text: c.name }));
    select = h('select', { id: 'screen-channel' }, h('option', { value: '', text: 'None' }), options());
    const save = h('button', { id: 'screen-channel-save', type: 'submit', class: 'btn btn-primary', text: 'Assign' });
    const assign = h('form', { id: 'screen-channel-form', class: 'form-inline' },
      field('Default channel', select),
      h('div', { class: 'field field-button' }, save),
      h('p', { class: 'hint form-note', text: 'What the screen plays when no schedule or “play now” applies.' }));
    assign.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const cid = select.value || null;
      busy(save, async () => {
        try {
          await api.setScreenChannel(screenId, cid);
          shown = null; // take the saved value
          const s = getScreen();
          toast(cid ? `“${s.name}” now plays “${names.get(cid) || cid}” by default. It switches once it has the content.`
            : `“${s.name}” has no default channel now.`);
          reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      });
    });
    forms.push(assign);

    const pnChannel = h('select', { id: 'play-now-channel' }, options());
    const minutes = h('input', {
      id: 'play-now-minutes', type: 'number', min: '1', max: '527040', step: '1', value: '60', inputmode: 'numeric',
      class: 'input-short',
    });
    const start = h('button', { id: 'play-now-start', type: 'submit', class: 'btn', text: 'Play now', disabled: !channels.length });
    stop = h('button', { id: 'play-now-stop', type: 'button', class: 'btn btn-danger', text: 'Stop', hidden: true });
    const playForm = h('form', { id: 'play-now-form', class: 'form-inline play-now-form' },
      field('Play now', pnChannel),
      field('For (minutes)', minutes),
      h('div', { class: 'field field-button inline' }, start, stop));
    playForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const n = Number(minutes.value);
      if (!pnChannel.value) { toast('Create a channel first.', 'error'); return; }
      if (!Number.isInteger(n) || n < 1 || n > 527040) {
        toast('Give a whole number of minutes, from 1 to 527040 (a year).', 'error');
        minutes.focus();
        return;
      }
      busy(start, async () => {
        try {
          const until = Math.floor(api.serverNow()) + n * 60;
          await api.playNow(screenId, pnChannel.value, until);
          toast(`“${names.get(pnChannel.value)}” plays now, until ${fmtTime(until).slice(11, 16)}.`);
          reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      });
    });
    stop.addEventListener('click', () => busy(stop, async () => {
      try {
        await api.stopPlayNow(screenId);
        toast('“Play now” ended: back to the schedule and the default channel.');
        reload();
      } catch (err) {
        toast(errorText(err), 'error');
      }
    }));
    forms.push(playForm);
    if (!channels.length) {
      forms.push(h('p', { class: 'hint' }, 'No channel yet. ', h('a', { href: '#/channels/new', text: 'Create one' }), ' to assign it.'));
    }
  }

  function sync(s) {
    currentDd.replaceChildren(channelRef(s.channel_id) || 'None');
    const pn = s.play_now && s.play_now.until > api.serverNow() ? s.play_now : null;
    playDd.replaceChildren(pn ? h('span', {}, channelRef(pn.channel_id), ` until ${fmtTime(pn.until)}`) : 'Not active');
    versionDd.textContent = s.manifest_version ? String(s.manifest_version) : 'None yet';
    if (select) {
      const next = s.channel_id || '';
      if (next && !names.has(next)) select.append(h('option', { value: next, text: next }));
      if (shown === null || select.value === shown) select.value = next;
      shown = next;
    }
    if (stop) stop.hidden = !pn;
  }

  const el = h('section', { class: 'card', id: 'screen-content', 'aria-labelledby': 'card-content' },
    h('h2', { id: 'card-content', text: 'Content' }),
    h('div', { class: 'content-grid' },
      list,
      forms.length ? h('div', { class: 'stack' }, ...forms) : null));
  return { el, sync };
}
