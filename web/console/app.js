// The Vitrine admin console: a small single-page app with hash routing, in
// ES modules loaded by the browser (no bundler).
//
// Views: login, #/screens (the landing page), #/screens/{id}, #/pair (admins),
// #/screen-groups (dynamic groups and actions sent to them), #/sync-groups[/{id}]
// (screens of one LAN that play in step), #/updates (releases and rollouts,
// admins),
// Views: login, #/screens (the landing page), #/screens/{id}, #/map (where the
// screens are), #/pair (admins),
// #/remote/{screen id} (remote control: admins and support), #/sessions (the
// remote sessions, admins),
// #/media, #/channels, #/channels/new, #/channels/{id}, #/schedules, #/reports
// (admins and editors), #/users, #/audit, #/account (admins), #/profile,
// #/tokens, #/chat[/{chat id}] (live chat: operators and admins), #/sites
// (the chat's sites, departments and operators, admins), #/chat-tools (the
// chat's predefined texts and forms, admins), #/chat-reports (the chat's
// reports and search, admins); and, when the page
// is served at /firewall, the firewall rules for the network team. One EventSource (/api/v1/events) is shared by the pages
// that show live data.
// The DOM is built with createElement/textContent only (never innerHTML with
// data), there are no inline scripts or styles (the server's CSP forbids
// them), and every control is a real button, link, label or form field.
//
// This entry registers the routes and starts the shell.

import * as api from './api.js';
import { CONTENT_ROLES, state } from './session.js';
import { $, errorText, toast } from './dom.js';
import { defineViews, render, setUser } from './shell.js';
import { renderLogin, doLogout } from './views/login.js';
import { renderUsers } from './views/users.js';
import { renderAudit } from './views/audit.js';
import { renderAccount } from './views/account.js';
import { renderProfile } from './views/profile.js';
import { renderTokens } from './views/tokens.js';
import { renderScreensRoute } from './views/screens.js';
import { renderScreenGroups } from './views/screen-groups.js';
import { renderSyncGroupsRoute } from './views/sync-groups.js';
import { renderUpdates } from './views/updates.js';
import { renderPair } from './views/pair.js';
import { renderMap } from './views/map.js';
import { renderMedia } from './views/media.js';
import { renderChannelsRoute } from './views/channels.js';
import { renderSchedules } from './views/schedules.js';
import { renderReports } from './views/reports.js';
import { renderFirewall } from './views/firewall.js';
import { renderRemote } from './views/remote.js';
import { renderRemoteSessions } from './views/remote-sessions.js';
import { renderChat } from './views/chat.js';
import { renderChatSites } from './views/chat-sites.js';
import { renderChatTools } from './views/chat-tools.js';
import { renderChatReports } from './views/chat-reports.js';

const ROUTES = {
  screens: { title: 'Screens', admin: false, render: renderScreensRoute },
  map: { title: 'Map', admin: false, render: renderMap },
  pair: { title: 'Pair a screen', admin: true, nav: 'screens', render: renderPair },
  'screen-groups': { title: 'Screen groups', admin: false, nav: 'screens', render: renderScreenGroups },
  'sync-groups': { title: 'Sync groups', admin: false, nav: 'screens', render: renderSyncGroupsRoute },
  updates: { title: 'Updates', admin: true, render: renderUpdates },
  remote: { title: 'Remote control', roles: ['admin', 'support'], nav: 'screens', render: renderRemote },
  sessions: { title: 'Remote sessions', admin: true, render: renderRemoteSessions },
  media: { title: 'Media library', roles: CONTENT_ROLES, render: renderMedia },
  channels: { title: 'Channels', roles: CONTENT_ROLES, render: renderChannelsRoute },
  schedules: { title: 'Schedules', roles: CONTENT_ROLES, render: renderSchedules },
  reports: { title: 'Reports', roles: CONTENT_ROLES, render: renderReports },
  chat: { title: 'Live chat', roles: ['admin', 'operator'], render: renderChat },
  sites: { title: 'Chat sites', admin: true, nav: 'chat', render: renderChatSites },
  'chat-tools': { title: 'Predefined texts and forms', admin: true, nav: 'chat', render: renderChatTools },
  'chat-reports': { title: 'Chat reports', admin: true, nav: 'chat', render: renderChatReports },
  users: { title: 'Users', admin: true, render: renderUsers },
  audit: { title: 'Audit log', admin: true, render: renderAudit },
  account: { title: 'Account', admin: true, render: renderAccount },
  profile: { title: 'Profile', admin: false, render: renderProfile },
  tokens: { title: 'API tokens', admin: false, render: renderTokens },
};

defineViews(ROUTES, { login: renderLogin, firewall: renderFirewall });

async function startConsole() {
  $('#logout').addEventListener('click', () => doLogout());
  $('#skip-link').addEventListener('click', (ev) => {
    ev.preventDefault();
    const target = $('#page-title') || $('#main');
    target.focus();
  });
  let shownHash = location.hash;
  window.addEventListener('hashchange', () => {
    // a page with unsaved changes may keep the user (the channel editor)
    if (state.leaveGuard && location.hash !== shownHash && !state.leaveGuard()) {
      history.replaceState(null, '', shownHash || location.pathname);
      return;
    }
    shownHash = location.hash;
    render();
  });
  try {
    const res = await api.getSession();
    setUser(res.user, res.csrf_token);
  } catch (err) {
    setUser(null);
    if (err.status !== 401) toast(errorText(err), 'error');
  }
  render();
}

startConsole();
