// The shell: hash routes, the header and navigation, signing in and out of
// the page state, and render(), which shows the view of the current route.
// The routes themselves are registered by app.js (ROUTES), so no view
// imports this module's table.

import * as api from './api.js';
import { isFirewallPath, routeAllowed, runCleanup, state } from './session.js';
import { $, append, errorText, h, pageHeader, toast } from './dom.js';
import { liveStop, onLiveSessionEnded } from './live.js';
import { deskStop } from './chat/desk.js';

/** name -> { title, render(stale, route), admin | roles, nav }: filled by app.js through defineViews(). */
export const ROUTES = {};
const pages = { login: null, firewall: null };

/** Registers the routed views and the two pages outside the routes (sign-in, /firewall). */
export function defineViews(routes, { login, firewall }) {
  Object.assign(ROUTES, routes);
  pages.login = login;
  pages.firewall = firewall;
}

/** The hash route: #/name[/param][?query]. */
function parseHash() {
  const m = /^#\/([a-z-]+)(?:\/([^?]*))?(?:\?(.*))?$/.exec(location.hash || '');
  let param = '';
  try {
    param = m && m[2] ? decodeURIComponent(m[2]) : '';
  } catch {
    param = '';
  }
  return { name: m ? m[1] : '', param, query: new URLSearchParams(m && m[3] ? m[3] : '') };
}

export function currentRoute() {
  return parseHash().name;
}

export function defaultRoute() {
  return 'screens';
}

// The top bar is sticky and its height depends on how many links wrap:
// --topbar-height keeps what scrolling brings into view (a focused field, a
// button) below it (scroll-padding-top in app.css).
let topbarWatch = null;
function watchTopbarHeight(header) {
  if (topbarWatch || typeof ResizeObserver === 'undefined') return;
  topbarWatch = new ResizeObserver(() => {
    document.documentElement.style.setProperty('--topbar-height', `${header.offsetHeight}px`);
  });
  topbarWatch.observe(header);
}

export function updateHeader() {
  const header = $('#topbar');
  watchTopbarHeight(header);
  const loggedIn = !!state.user;
  header.hidden = !loggedIn;
  if (!loggedIn) return;
  const forced = !!state.user.must_change_password;
  const route = currentRoute();
  const navRoute = (ROUTES[route] && ROUTES[route].nav) || route;
  for (const [name, def] of Object.entries(ROUTES)) {
    const link = $(`#nav-${name}`);
    if (!link) continue;
    const item = link.closest('li') || link;
    item.hidden = !routeAllowed(def) || (forced && name !== 'profile');
    if (name === navRoute && !isFirewallPath()) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const who = $('#current-user');
  who.textContent = '';
  append(who, [
    h('span', { class: 'who-name', text: state.user.name || state.user.login }),
    h('span', { class: 'who-role', text: state.user.role }),
  ]);
  who.title = `Signed in as ${state.user.login} (${state.user.role})`;
}

export function setUser(user, csrf) {
  state.user = user || null;
  if (csrf !== undefined) api.setCsrfToken(csrf);
  if (!user) api.setCsrfToken(null);
}

export function signedOut(message) {
  runCleanup();
  liveStop();
  deskStop();
  setUser(null);
  render();
  if (message) toast(message, 'info');
}

onLiveSessionEnded(() => signedOut('Your session has ended. Please sign in again.'));

api.onUnauthorized(() => {
  if (state.user) signedOut('Your session has ended. Please sign in again.');
});

export async function render() {
  const seq = ++state.renderSeq;
  runCleanup();
  const main = $('#main');
  updateHeader();
  if (!state.user) {
    document.title = 'Sign in · Vitrine';
    main.replaceChildren(pages.login());
    $('#login').focus();
    return;
  }
  const parsed = parseHash();
  const route = parsed.name;
  if (isFirewallPath()) {
    // the firewall page stands alone; the console's pages (any #/… link) live at /
    const hash = location.hash && location.hash !== '#' ? location.hash : '';
    if (hash || state.user.must_change_password) {
      location.assign(`/${state.user.must_change_password ? '#/profile' : hash}`);
      return;
    }
    document.title = 'Firewall rules · Vitrine';
    main.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
    try {
      const view = await pages.firewall(() => seq !== state.renderSeq);
      if (seq !== state.renderSeq) return;
      main.replaceChildren(view);
      const title = $('#page-title');
      if (title && document.activeElement === document.body) title.focus({ preventScroll: true });
    } catch (err) {
      if (seq !== state.renderSeq || err.status === 401) return;
      main.replaceChildren(h('div', { class: 'card' },
        pageHeader('Firewall rules'),
        h('p', { class: 'form-error', role: 'alert', text: errorText(err) }),
        h('button', { type: 'button', class: 'btn', text: 'Try again', onclick: () => render() })));
    }
    return;
  }
  const def = ROUTES[route];
  if (state.user.must_change_password && route !== 'profile') {
    location.replace('#/profile');
    return; // hashchange renders
  }
  if (!routeAllowed(def)) {
    if (def && route === 'pair') toast('Only administrators can pair screens.', 'info');
    location.replace(`#/${defaultRoute()}`);
    return;
  }
  document.title = `${def.title} · Vitrine`;
  main.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
  try {
    const view = await def.render(() => seq !== state.renderSeq, parsed);
    if (seq !== state.renderSeq) return;
    main.replaceChildren(view);
    const title = $('#page-title');
    if (title && document.activeElement === document.body) title.focus({ preventScroll: true });
  } catch (err) {
    if (seq !== state.renderSeq) return;
    if (err instanceof api.ApiError && err.code === 'password_change_required') {
      state.user.must_change_password = true;
      location.replace('#/profile');
      render();
      return;
    }
    if (err instanceof api.ApiError && err.status === 401) return; // onUnauthorized took over
    main.replaceChildren(h('div', { class: 'card' },
      pageHeader(def.title),
      h('p', { class: 'form-error', role: 'alert', text: errorText(err) }),
      h('button', { type: 'button', class: 'btn', text: 'Try again', onclick: () => render() })));
  }
}
