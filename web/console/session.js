// The signed-in user and what the current page must undo when it is left:
// roles, the shared state object, role checks and the cleanup list.

export const ROLES = ['admin', 'editor', 'operator', 'support'];
export const ROLE_HELP = {
  admin: 'Everything in the account, including users and security settings.',
  editor: 'Content of the channels and zones granted to them.',
  operator: 'Live chat with the visitors of your web sites.',
  support: 'Remote control of the screens granted to them.',
};
export const CONTENT_ROLES = ['admin', 'editor'];
export const state = {
  user: null,
  renderSeq: 0,
  cleanup: [], // functions run when leaving the current view (EventSource etc.)
  leaveGuard: null, // () => false keeps the current page (unsaved changes)
};
export const isAdmin = () => state.user && state.user.role === 'admin';
export const isEditor = () => state.user && state.user.role === 'editor';
/** May the signed-in user open this route? */
export const routeAllowed = (def) => !!def && (def.admin ? isAdmin() : !def.roles || (!!state.user && def.roles.includes(state.user.role)));
/** The console served at /firewall shows the firewall rules for the network team. */
export const isFirewallPath = () => /^\/firewall\/?$/.test(location.pathname);

export function runCleanup() {
  const fns = state.cleanup;
  state.cleanup = [];
  for (const fn of fns) {
    try { fn(); } catch { /* ignore */ }
  }
}

export const canControl = () => state.user && (state.user.role === 'admin' || state.user.role === 'support');
