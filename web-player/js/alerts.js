// Alerts raised by rules, for security staff on every page: polls
// GET /api/alerts every 2 s, shows a toast for each alert raised since the
// page loaded (rule, user, target, session, a link to the player at the
// alert's second), and keeps a count per session for the Live page's badges.
// Server data reaches the page through el() (textContent) only.
import { api, el, fmtOffset } from './util.js';

const POLL_MS = 2000;
const TOAST_MS = 20000;
const MAX_TOASTS = 4;

const bySession = new Map();  // session_id -> alerts seen, oldest first
const seen = new Set();
const listeners = new Set();
let sinceIso = null;  // the newest `at` seen (the server's clock, never ours)
let primed = false;   // the first answer is the backlog: counted, not toasted

function keyOf(a) { return [a.session_id, a.t_ms, a.at, a.rule, a.text].join('\u0000'); }

// Alerts of `id` seen so far (the backlog of up to 100 and every new one).
export function alertsOf(id) { return bySession.get(id) || []; }

// fn() runs after new alerts arrive; returns the unsubscribe function.
export function onAlerts(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function playerLink(a) {
  return `#/play/${encodeURIComponent(a.session_id)}?t=${a.t_ms}&hl=${a.t_ms}`;
}

function container() {
  let box = document.getElementById('alert-toasts');
  if (!box) {
    box = el('div', { id: 'alert-toasts', class: 'alert-toasts', role: 'alert', 'aria-live': 'assertive' });
    document.body.append(box);
  }
  return box;
}

function showToast(a) {
  const box = container();
  const close = el('button', { class: 'link close', title: 'Dismiss', 'aria-label': 'Dismiss alert' }, '×');
  const t = el('div', { class: 'alert-toast sev-' + a.severity, 'data-session': a.session_id, 'data-t': a.t_ms },
    el('div', { class: 'alert-head' },
      el('strong', { class: 'rule' }, '⚠ ' + a.rule),
      el('span', { class: 'badge sev' }, a.severity), close),
    el('div', { class: 'who' }, el('span', { class: 'user' }, a.user), el('span', { class: 'muted' }, ' → '),
      el('span', { class: 'target' }, a.target)),
    el('div', { class: 'text mono' }, a.text),
    el('div', { class: 'alert-foot muted' }, 'session ', el('span', { class: 'session mono' }, a.session_id),
      ' at ', fmtOffset(a.t_ms), ' · ',
      el('a', { class: 'open', href: playerLink(a) }, 'Open in player')));
  const remove = () => t.remove();
  close.addEventListener('click', remove);
  t.querySelector('a.open').addEventListener('click', remove);
  box.prepend(t);
  while (box.children.length > MAX_TOASTS) box.lastElementChild.remove();
  setTimeout(remove, TOAST_MS);
}

async function poll() {
  const q = new URLSearchParams({ limit: '100' });
  if (sinceIso) q.set('since', sinceIso);
  let list;
  try {
    list = (await api('/api/alerts?' + q.toString())).alerts;
  } catch (e) {
    return;  // a store outage: try again at the next poll, quietly
  }
  const fresh = [];
  for (const a of [...list].reverse()) {  // oldest first
    const k = keyOf(a);
    if (seen.has(k)) continue;
    seen.add(k);
    if (!bySession.has(a.session_id)) bySession.set(a.session_id, []);
    bySession.get(a.session_id).push(a);
    if (!sinceIso || a.at > sinceIso) sinceIso = a.at;  // RFC 3339 with ms, UTC: orders as text
    fresh.push(a);
  }
  if (primed) for (const a of fresh) showToast(a);
  primed = true;
  if (fresh.length) for (const fn of listeners) fn();
}

// Starts the poller once; only roles that may read alerts call this.
let started = false;
export function startAlerts() {
  if (started) return;
  started = true;
  poll();
  setInterval(poll, POLL_MS);
}
