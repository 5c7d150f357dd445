// Thin client for the Vitrine REST API (/api/v1), used by the console.
//
// Every call goes through request(): JSON in and out, the session cookie
// (credentials: 'same-origin'), and the X-CSRF-Token header on every
// state-changing request. Errors come back as ApiError carrying the HTTP
// status and the server's {"error":{"code","message",...}} object.

export class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail || {};
  }
}

let csrfToken = null;
let unauthorizedHandler = null;
let clockOffset = 0; // server clock minus ours, seconds (from the Date header)

/** The server's current Unix time in seconds, estimated from the Date header of its last answer. */
export function serverNow() {
  return Date.now() / 1000 + clockOffset;
}

function noteServerDate(res) {
  const date = res.headers.get('Date');
  const t = date ? Date.parse(date) : NaN;
  if (Number.isNaN(t)) return;
  // the header has whole seconds: ignore differences a truncation explains
  const offset = t / 1000 - Date.now() / 1000;
  clockOffset = Math.abs(offset) < 2 ? 0 : offset;
}

/** Remembers the CSRF token returned by login or GET /api/v1/session. */
export function setCsrfToken(token) {
  csrfToken = token || null;
}

/** Called with the ApiError when an authenticated call answers 401 (session gone). */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

async function request(method, path, body, { quiet401 = false, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error' };
  if (signal) init.signal = signal;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (!SAFE_METHODS.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;

  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err && err.name === 'AbortError') throw new ApiError(0, 'aborted', 'The request was cancelled.');
    throw new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection and try again.');
  }
  noteServerDate(res);
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const e = new ApiError(res.status, err.code || `http_${res.status}`,
      err.message || `The server answered ${res.status} ${res.statusText}`.trim(), err);
    if (res.status === 401 && !quiet401 && unauthorizedHandler) unauthorizedHandler(e);
    throw e;
  }
  return data || {};
}

const enc = encodeURIComponent;

// Session
export const login = (body) => request('POST', '/api/v1/session', body, { quiet401: true });
export const getSession = () => request('GET', '/api/v1/session', undefined, { quiet401: true });
export const logout = () => request('DELETE', '/api/v1/session', undefined, { quiet401: true });

// Me
export const getMe = () => request('GET', '/api/v1/me');
export const changePassword = (currentPassword, newPassword) =>
  request('PUT', '/api/v1/me/password', { current_password: currentPassword, new_password: newPassword });
export const logoutEverywhere = () => request('DELETE', '/api/v1/me/sessions', undefined, { quiet401: true });
export const totpBegin = () => request('POST', '/api/v1/me/totp', {});
export const totpConfirm = (code) => request('POST', '/api/v1/me/totp/confirm', { code });
export const totpDisable = (code) => request('DELETE', '/api/v1/me/totp', { code });

// Users (admin)
export const listUsers = () => request('GET', '/api/v1/users');
export const createUser = (user) => request('POST', '/api/v1/users', user);
export const updateUser = (id, fields) => request('PATCH', `/api/v1/users/${enc(id)}`, fields);
export const deleteUser = (id) => request('DELETE', `/api/v1/users/${enc(id)}`);
export const resetUserPassword = (id) => request('POST', `/api/v1/users/${enc(id)}/password-reset`, {});
export const resetUserTotp = (id) => request('DELETE', `/api/v1/users/${enc(id)}/totp`);

// API tokens
export const listTokens = () => request('GET', '/api/v1/tokens');
export const createToken = (name) => request('POST', '/api/v1/tokens', { name });
export const deleteToken = (id) => request('DELETE', `/api/v1/tokens/${enc(id)}`);

// Account (admin)
export const getAccount = () => request('GET', '/api/v1/account');
export const getAllowlist = () => request('GET', '/api/v1/account/allowlist');
export const putAllowlist = (lists) => request('PUT', '/api/v1/account/allowlist', lists);

// Audit (admin)
/** A page of the log: { limit, before, offset, sort, q } (see docs/api.yaml). */
export const listAudit = ({ limit = 50, ...rest } = {}) => request('GET', `/api/v1/audit${query({ limit, ...rest })}`);
// Screens
/** Every screen, or a page of them with { limit, offset, sort, q }: the answer has total and online. */
export const listScreens = (params = {}) => request('GET', `/api/v1/screens${query(params)}`);
export const getScreen = (id) => request('GET', `/api/v1/screens/${enc(id)}`);
export const updateScreen = (id, fields) => request('PATCH', `/api/v1/screens/${enc(id)}`, fields);
export const deleteScreen = (id) => request('DELETE', `/api/v1/screens/${enc(id)}`);
export const sendInstruction = (id, type, payload = {}) =>
  request('POST', `/api/v1/screens/${enc(id)}/instructions`, { type, payload });
/** The instruction; with wait > 0 the server answers as soon as the screen acknowledges it. */
export const getInstruction = (id, iid, wait = 0, signal = undefined) =>
  request('GET', `/api/v1/screens/${enc(id)}/instructions/${enc(iid)}?wait=${Number(wait) || 0}`, undefined, { signal });
// Device management: logs collected from a screen, dynamic groups, actions on many screens
export const listScreenLogs = (id) => request('GET', `/api/v1/screens/${enc(id)}/logs`);
export const screenLogUrl = (id, logId) => `/api/v1/screens/${enc(id)}/logs/${enc(logId)}`;
export const listScreenGroups = () => request('GET', '/api/v1/screen-groups');
export const createScreenGroup = (body) => request('POST', '/api/v1/screen-groups', body);
export const updateScreenGroup = (id, fields) => request('PATCH', `/api/v1/screen-groups/${enc(id)}`, fields);
export const deleteScreenGroup = (id) => request('DELETE', `/api/v1/screen-groups/${enc(id)}`);
export const screenGroupMembers = (id) => request('GET', `/api/v1/screen-groups/${enc(id)}/screens`);
export const sendScreenAction = (body) => request('POST', '/api/v1/screen-actions', body);
export const getScreenAction = (id) => request('GET', `/api/v1/screen-actions/${enc(id)}`);
export const listScreenActions = () => request('GET', '/api/v1/screen-actions');
// Sync groups: screens of one LAN that play in step (the key is never shown)
export const listSyncGroups = () => request('GET', '/api/v1/sync-groups');
export const getSyncGroup = (id) => request('GET', `/api/v1/sync-groups/${enc(id)}`);
export const createSyncGroup = (body) => request('POST', '/api/v1/sync-groups', body);
export const updateSyncGroup = (id, fields) => request('PATCH', `/api/v1/sync-groups/${enc(id)}`, fields);
export const deleteSyncGroup = (id) => request('DELETE', `/api/v1/sync-groups/${enc(id)}`);
// Over-the-air updates: releases and rollouts
export const listReleases = () => request('GET', '/api/v1/releases');
export const listRollouts = () => request('GET', '/api/v1/rollouts');
export const getRollout = (id) => request('GET', `/api/v1/rollouts/${enc(id)}`);
export const createRollout = (body) => request('POST', '/api/v1/rollouts', body);
export const rolloutCommand = (id, command) => request('POST', `/api/v1/rollouts/${enc(id)}/${enc(command)}`, {});
export const screenshotUrl = (id, at) => `/api/v1/screens/${enc(id)}/screenshot?t=${enc(String(at))}`;
/** The server's settings the console needs: { map: { tile_url, attribution } }. */
export const getConsoleConfig = () => request('GET', '/api/v1/console-config');

// Pairing (admin)
export const previewPairing = (code) => request('GET', `/api/v1/pairings/${enc(code)}`);
export const confirmPairing = (userCode, name) => request('POST', '/api/v1/pairings', { user_code: userCode, name });

// Screens: what they play (admin)
export const setScreenChannel = (id, channelId) =>
  request('PUT', `/api/v1/screens/${enc(id)}/channel`, { channel_id: channelId || null });
export const playNow = (id, channelId, until) =>
  request('POST', `/api/v1/screens/${enc(id)}/play-now`, { channel_id: channelId, until });
export const stopPlayNow = (id) => request('DELETE', `/api/v1/screens/${enc(id)}/play-now`);

// Media library (admin, editor)
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}
export const listMedia = (filters = {}) => request('GET', `/api/v1/media${query(filters)}`);
export const getMedia = (sha) => request('GET', `/api/v1/media/${enc(sha)}`);
export const updateMedia = (sha, fields) => request('PATCH', `/api/v1/media/${enc(sha)}`, fields);
export const deleteMedia = (sha) => request('DELETE', `/api/v1/media/${enc(sha)}`);
export const mediaContentUrl = (sha) => `/api/v1/media/${enc(sha)}/content`;
/** The PNG thumbnail (at most 320×320) of an image that has one (`media.thumbnail`). */
export const mediaThumbnailUrl = (sha) => `/api/v1/media/${enc(sha)}/thumbnail`;

/** true if the account has this object (HEAD answers 200), false on 404. */
export async function hasMedia(sha) {
  let res;
  try {
    res = await fetch(`/api/v1/media/${enc(sha)}`, {
      method: 'HEAD', credentials: 'same-origin', cache: 'no-store', redirect: 'error',
    });
  } catch {
    throw new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection and try again.');
  }
  noteServerDate(res);
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  const e = new ApiError(res.status, `http_${res.status}`, `The server answered ${res.status} ${res.statusText}`.trim());
  if (res.status === 401 && unauthorizedHandler) unauthorizedHandler(e);
  throw e;
}

/** A header value carrying the UTF-8 bytes of text (XHR headers are byte strings). */
function utf8Header(text) {
  const bytes = new TextEncoder().encode(String(text).replace(/[\u0000-\u001f\u007f]/g, '').trim());
  let out = '';
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

/**
 * PUT /api/v1/media/{sha} with the raw file, through XMLHttpRequest for its
 * upload progress events. onProgress(sentBytes, totalBytes). Resolves to
 * { status, media } (201 stored, 200 already there); rejects with ApiError.
 * Returns { promise, abort }.
 */
export function uploadMedia(sha, file, { filename, onProgress } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('PUT', `/api/v1/media/${enc(sha)}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('X-Filename', utf8Header(filename || file.name || ''));
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    if (onProgress) {
      xhr.upload.addEventListener('progress', (ev) => {
        onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size);
      });
    }
    xhr.addEventListener('load', () => {
      const date = xhr.getResponseHeader('Date');
      if (date) noteServerDate({ headers: { get: () => date } });
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status === 200 || xhr.status === 201) {
        resolve({ status: xhr.status, media: (data && data.media) || null });
        return;
      }
      const err = (data && data.error) || {};
      const e = new ApiError(xhr.status, err.code || `http_${xhr.status}`,
        err.message || `The server answered ${xhr.status} ${xhr.statusText}`.trim(), err);
      if (xhr.status === 401 && unauthorizedHandler) unauthorizedHandler(e);
      reject(e);
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network_error',
      'The upload was interrupted (the server may have refused it, or the connection dropped).')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.')));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

// Channels (admin; editors within their grants)
/** Every channel the caller may edit, or a page of them with { limit, offset, sort, q }. */
export const listChannels = (params = {}) => request('GET', `/api/v1/channels${query(params)}`);
export const getChannel = (id) => request('GET', `/api/v1/channels/${enc(id)}`);
export const createChannel = (body) => request('POST', '/api/v1/channels', body);
export const replaceChannel = (id, body) => request('PUT', `/api/v1/channels/${enc(id)}`, body);
export const deleteChannel = (id) => request('DELETE', `/api/v1/channels/${enc(id)}`);
export const getGrants = (id) => request('GET', `/api/v1/channels/${enc(id)}/grants`);
export const putGrants = (id, grants) => request('PUT', `/api/v1/channels/${enc(id)}/grants`, { grants });

// Schedules (list: admin, editor; change: admin)
export const listSchedules = () => request('GET', '/api/v1/schedules');
export const createSchedule = (body) => request('POST', '/api/v1/schedules', body);
export const deleteSchedule = (id) => request('DELETE', `/api/v1/schedules/${enc(id)}`);

// Proof of play (admin, editor)
export const listPlays = (filters = {}) => request('GET', `/api/v1/reports/plays${query(filters)}`);
export const playsCsvUrl = (filters = {}) => `/api/v1/reports/plays${query({ ...filters, format: 'csv' })}`;

// Firewall rules (admin)
export const getFirewall = () => request('GET', '/api/v1/firewall');

// Remote control (a session through a relay; the POST may wait up to 30 s
// for the consent of the person at the screen)
export const startRemote = (screenId) => request('POST', `/api/v1/screens/${enc(screenId)}/remote`);
export const listRemoteSessions = () => request('GET', '/api/v1/remote-sessions');
export const endRemoteSession = (id) => request('DELETE', `/api/v1/remote-sessions/${enc(id)}`);

export const AUDIT_CSV_URL = '/api/v1/audit.csv';
export const EVENTS_URL = '/api/v1/events';
