// The live chat's REST calls for the console (operators and admins), beside
// api.js: JSON in and out, the session cookie, the X-CSRF-Token header on
// every state-changing call (the token comes from GET /api/v1/session, asked
// once), errors as api.ApiError. Paths follow docs/PROTOCOL.md "Live chat".

import * as api from '../api.js';

let csrf = null;

async function csrfToken() {
  if (!csrf) csrf = (await api.getSession()).csrf_token || '';
  return csrf;
}

/** Forgets the CSRF token (after signing out and in again). */
export function resetChatCsrf() {
  csrf = null;
}

async function request(method, path, body, retried = false) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = await csrfToken();
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new api.ApiError(0, 'network_error', 'Cannot reach the server. Check your connection and try again.');
  }
  let data = null;
  const text = await res.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    if (res.status === 403 && /csrf/.test(err.code || '') && !retried) {
      csrf = null; // a new session since: ask for its token once
      return request(method, path, body, true);
    }
    throw new api.ApiError(res.status, err.code || `http_${res.status}`,
      err.message || `The server answered ${res.status} ${res.statusText}`.trim(), err);
  }
  return data || {};
}

const enc = encodeURIComponent;
const C = '/api/v1/chat';

// Sites (admin)
export const listSites = () => request('GET', '/api/v1/sites');
export const createSite = (site) => request('POST', '/api/v1/sites', site);
export const getSite = (id) => request('GET', `/api/v1/sites/${enc(id)}`);
export const updateSite = (id, fields) => request('PATCH', `/api/v1/sites/${enc(id)}`, fields);
export const deleteSite = (id) => request('DELETE', `/api/v1/sites/${enc(id)}`);

// Departments, operators (admin)
export const listDepartments = () => request('GET', `${C}/departments`);
export const createDepartment = (d) => request('POST', `${C}/departments`, d);
export const updateDepartment = (id, fields) => request('PATCH', `${C}/departments/${enc(id)}`, fields);
export const deleteDepartment = (id) => request('DELETE', `${C}/departments/${enc(id)}`);
export const setDepartmentOperators = (id, userIds) =>
  request('PUT', `${C}/departments/${enc(id)}/operators`, { user_ids: userIds });
export const setOperatorCapacity = (userId, capacity) =>
  request('PATCH', `${C}/operators/${enc(userId)}`, { capacity });

// The operator's desk
export const setStatus = (status) => request('PUT', `${C}/me/status`, { status });
export const listChats = (state) => request('GET', `${C}/chats?state=${enc(state)}`);
export const getChat = (id) => request('GET', `${C}/chats/${enc(id)}`);
export const pickup = (id) => request('POST', `${C}/chats/${enc(id)}/pickup`, {});
export const sendMessage = (id, text, clientId) =>
  request('POST', `${C}/chats/${enc(id)}/messages`, { text, client_id: clientId });
export const sendTyping = (id, on) => request('POST', `${C}/chats/${enc(id)}/typing`, { on });
export const sendRead = (id, seq) => request('POST', `${C}/chats/${enc(id)}/read`, { seq });
export const transfer = (id, target) => request('POST', `${C}/chats/${enc(id)}/transfer`, target);
export const endChat = (id) => request('POST', `${C}/chats/${enc(id)}/end`, {});

// Predefined texts and forms (lists: operators; changes: admins)
export const listCanned = () => request('GET', `${C}/canned`);
export const createCanned = (c) => request('POST', `${C}/canned`, c);
export const updateCanned = (id, fields) => request('PATCH', `${C}/canned/${enc(id)}`, fields);
export const deleteCanned = (id) => request('DELETE', `${C}/canned/${enc(id)}`);
export const listForms = () => request('GET', `${C}/forms`);
export const createForm = (f) => request('POST', `${C}/forms`, f);
export const updateForm = (id, fields) => request('PATCH', `${C}/forms/${enc(id)}`, fields);
export const deleteForm = (id) => request('DELETE', `${C}/forms/${enc(id)}`);
export const listCampaigns = () => request('GET', `${C}/campaigns`);
export const createCampaign = (c) => request('POST', `${C}/campaigns`, c);
export const updateCampaign = (id, fields) => request('PATCH', `${C}/campaigns/${enc(id)}`, fields);
export const deleteCampaign = (id) => request('DELETE', `${C}/campaigns/${enc(id)}`);

// Messages left while no operator was online
export const listOfflineMessages = (handled) => request('GET', `${C}/offline-messages?handled=${handled ? 1 : 0}`);
export const setOfflineHandled = (id, handled) => request('PATCH', `${C}/offline-messages/${enc(id)}`, { handled });

// The operator's tools in a chat
export const pushForm = (id, formId) => request('POST', `${C}/chats/${enc(id)}/forms`, { form_id: formId });
export const redirectVisitor = (id, url) => request('POST', `${C}/chats/${enc(id)}/redirect`, { url });
export const callStep = (id, body) => request('POST', `${C}/chats/${enc(id)}/call`, body);

// Reports and search (admins); qs: from, to, by, tz_offset_min as a query string
export const report = (qs) => request('GET', `${C}/reports?${qs}`);
export const searchChats = (q) => request('GET', `${C}/search?q=${enc(q)}`);

// Bans
export const ban = (body) => request('POST', `${C}/bans`, body);
export const listBans = () => request('GET', `${C}/bans`);
export const deleteBan = (id) => request('DELETE', `${C}/bans/${enc(id)}`);

export const STREAM_URL = `${C}/stream`;
