// Message text with its links: http(s) URLs become links (opened in a new
// tab, without the opener or the referrer), everything else stays text
// nodes. Used by the visitor's window and the console (which imports it from
// /chat/assets/links.js), so a predefined text's link works on both sides
// and no typed character is ever read as HTML.

const URL_RE = /https?:\/\/[^\s<>"'`]+/g;
const TRAILING = /[.,;:!?)\]}]+$/; // punctuation after a link is the sentence's, not the link's

/** Appends text to el, with its http(s) URLs as <a> elements. Returns el. */
export function appendLinked(el, text) {
  const s = String(text || '');
  let last = 0;
  for (const m of s.matchAll(URL_RE)) {
    let raw = m[0];
    const tail = TRAILING.exec(raw);
    if (tail) raw = raw.slice(0, raw.length - tail[0].length);
    let url = null;
    try {
      url = new URL(raw);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !raw) continue;
    el.append(document.createTextNode(s.slice(last, m.index)));
    const a = document.createElement('a');
    a.href = url.href;
    a.textContent = raw;
    a.target = '_blank';
    a.rel = 'noopener noreferrer nofollow';
    el.append(a);
    last = m.index + raw.length;
  }
  el.append(document.createTextNode(s.slice(last)));
  return el;
}
