// What the live chat pages share: the id of a chat in any event or row,
// the name shown for a visitor, idempotency keys for messages.

/** The chat id of a list row, a chat object or a stream event. */
export function chatIdOf(d) {
  if (!d) return '';
  return d.chat_id || (d.chat && d.chat.id) || d.id || '';
}

/** Does the stream event d concern the chat id? */
export function sameChat(id, d) {
  return !!id && chatIdOf(d) === id;
}

/** A visitor's name as typed, or "Visitor". */
export function personName(name) {
  const n = typeof name === 'string' ? name.trim() : '';
  return n || 'Visitor';
}

/** A fresh client_id (the server returns the same seq for a retried one). */
export function newClientId() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
