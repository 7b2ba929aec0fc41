// Vigil web player: a small hash-routed app over the JSON API. Every piece of
// server data reaches the page through textContent (el()), never innerHTML.
import { renderPlayer } from './player.js';
import { renderLive } from './live.js';
import { alertsOf, onAlerts, playerLink, startAlerts } from './alerts.js';
import { api, el, fmtBytes, fmtDuration, fmtOffset, fmtTime, toast, confirmDialog, highlight } from './util.js';

const view = document.getElementById('view');
let me = { user: '', roles: [] };
let cleanup = null;

export const ctx = {
  get me() { return me; },
  hasRole: (...roles) => roles.some((r) => me.roles.includes(r)),
  terminate: terminateSession,
};

async function boot() {
  try {
    me = await api('/api/me');
  } catch (e) {
    return; // api() already sent an unsigned browser to the sign-in page
  }
  document.getElementById('who-name').textContent = me.user;
  document.getElementById('who-roles').textContent = '(' + me.roles.join(', ') + ')';
  for (const a of document.querySelectorAll('#nav a[data-roles]')) {
    if (!ctx.hasRole(...a.dataset.roles.split(' '))) a.hidden = true;
  }
  document.getElementById('logout').addEventListener('click', async () => {
    try { await api('/api/logout', { method: 'POST', body: {} }); } catch (e) { /* signed out anyway */ }
    location.replace('/');
  });
  const qs = document.getElementById('quick-search');
  qs.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = document.getElementById('quick-search-input').value.trim();
    if (q) location.hash = '#/search?q=' + encodeURIComponent(q);
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === '/' && !isTyping(ev.target)) {
      ev.preventDefault();
      document.getElementById('quick-search-input').focus();
    }
  });
  if (ctx.hasRole('security', 'admin')) startAlerts();
  window.addEventListener('hashchange', route);
  route();
}

export function isTyping(t) {
  return t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
}

function parseHash() {
  const h = location.hash.replace(/^#/, '') || '/live';
  const [path, query] = h.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query || '') };
}

function route() {
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  view.replaceChildren();
  const { parts, params } = parseHash();
  const page = parts[0] || 'live';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('current', a.dataset.route === page);
  const staff = ctx.hasRole('auditor', 'security', 'admin');
  if (!staff && page !== 'denied') return renderDenied();
  const pages = {
    live: () => renderLiveList(),
    recordings: () => renderRecordings(params),
    search: () => renderSearch(params),
    play: () => renderPlayer(view, parts[1], params, ctx),
    watch: () => renderLive(view, parts[1], ctx),
    grants: () => renderGrants(),
    audit: () => renderAudit(),
  };
  const fn = pages[page];
  if (!fn) { view.append(el('div', { class: 'empty' }, 'No such page.')); return; }
  document.title = 'Vigil — ' + page;
  cleanup = fn() || null;
}

function renderDenied() {
  view.append(el('div', { class: 'empty' },
    'Signed in as ' + me.user + '. Your role (' + me.roles.join(', ') + ') has no access to recordings. ',
    'Ask an administrator for the auditor or security role.'));
}

// ---------------------------------------------------------------- live list
function renderLiveList() {
  const canWatch = ctx.hasRole('security', 'admin');
  const cards = el('div', { class: 'cards', id: 'live-cards' });
  const count = el('span', { class: 'muted' });
  view.append(el('div', { class: 'toolbar' }, el('h1', {}, 'Live sessions'), count), cards);
  let sessions = [];
  let stopped = false;
  const thumbs = new Map();

  async function load() {
    try {
      sessions = (await api('/api/sessions?state=live&limit=200')).sessions;
    } catch (e) { toast(e.message, true); return; }
    if (stopped) return;
    count.textContent = sessions.length + ' live';
    const ids = new Set(sessions.map((s) => s.id));
    for (const card of [...cards.children]) if (!ids.has(card.dataset.id)) card.remove();
    if (!sessions.length && !cards.querySelector('.empty')) {
      cards.append(el('div', { class: 'empty' }, 'No live sessions right now.'));
    } else if (sessions.length) {
      cards.querySelector('.empty')?.remove();
    }
    for (const s of sessions) {
      let card = cards.querySelector(`[data-id="${CSS.escape(s.id)}"]`);
      if (!card) {
        card = buildCard(s);
        cards.append(card);
      }
      card.querySelector('.dur').dataset.started = s.started_at;
    }
    markAlerts();
    tick();
  }

  // A badge on each card whose session raised alerts: how many, the newest rule,
  // a link to the player at the newest one.
  function markAlerts() {
    for (const card of cards.querySelectorAll('.card')) {
      const list = alertsOf(card.dataset.id);
      let badge = card.querySelector('.alert-badge');
      if (!list.length) { badge?.remove(); continue; }
      const last = list[list.length - 1];
      const label = '⚠ ' + list.length + ' alert' + (list.length === 1 ? '' : 's');
      if (!badge) {
        badge = el('a', { class: 'badge alert-badge' });
        card.querySelector('.meta').append(badge);
      }
      badge.textContent = label;
      badge.href = playerLink(last);
      badge.title = 'newest: ' + last.rule + ' (' + last.severity + ')';
      card.classList.add('alerted');
    }
  }

  function buildCard(s) {
    const img = el('img', { alt: 'screen of ' + s.user + ' on ' + s.target });
    const thumb = el('div', { class: 'thumb' }, canWatch ? img : el('span', {}, 'live view needs the security role'));
    if (canWatch) {
      thumbs.set(s.id, img);
      // The server never waits for a first picture (503, Retry-After: 1): ask again soon.
      img.addEventListener('error', () => {
        img.hidden = true;
        if (!img.dataset.retried) {
          img.dataset.retried = '1';
          setTimeout(() => { if (img.isConnected) img.src = thumbUrl(s.id); }, 1000);
        }
      });
      img.addEventListener('load', () => { img.hidden = false; });
      img.src = thumbUrl(s.id);
    }
    const actions = el('div', { class: 'actions' });
    if (canWatch) actions.append(el('button', { class: 'primary', onclick: () => { location.hash = '#/watch/' + encodeURIComponent(s.id); } }, 'Watch'));
    actions.append(el('button', { onclick: () => { location.hash = '#/play/' + encodeURIComponent(s.id); } }, 'Replay so far'));
    if (canWatch) actions.append(el('button', { class: 'danger', onclick: () => terminateSession(s, load) }, 'Terminate'));
    return el('div', { class: 'card', 'data-id': s.id },
      thumb,
      el('div', { class: 'meta' },
        el('span', { class: 'title' }, s.user, el('span', { class: 'muted' }, ' → '), s.target),
        el('span', { class: 'badge live' }, 'LIVE'),
        el('span', { class: 'muted' }, s.protocol.toUpperCase() + ' · from ' + (s.client_addr || '?') + ' · since ' + fmtTime(s.started_at)),
        el('span', { class: 'dur mono' }, '')),
      actions);
  }

  function tick() {
    for (const d of cards.querySelectorAll('.dur')) {
      if (d.dataset.started) d.textContent = fmtDuration(Date.now() - Date.parse(d.dataset.started));
    }
  }
  function thumbUrl(id) { return '/api/sessions/' + encodeURIComponent(id) + '/thumbnail?ts=' + Date.now(); }

  load();
  const stopAlerts = onAlerts(markAlerts);
  const listTimer = setInterval(load, 5000);
  const tickTimer = setInterval(tick, 1000);
  const thumbTimer = setInterval(() => { for (const [id, img] of thumbs) if (img.isConnected) img.src = thumbUrl(id); }, 3000);
  return () => { stopped = true; stopAlerts(); clearInterval(listTimer); clearInterval(tickTimer); clearInterval(thumbTimer); };
}

async function terminateSession(s, after) {
  const ok = await confirmDialog('Terminate session?',
    `End ${s.user}'s session on ${s.target} now? Both connections close at once; this is recorded in the audit log.`,
    'Terminate');
  if (!ok) return false;
  try {
    await api('/api/sessions/' + encodeURIComponent(s.id) + '/terminate', { method: 'POST', body: {} });
    toast('Terminating ' + s.user + ' → ' + s.target);
    if (after) setTimeout(after, 700);
    return true;
  } catch (e) {
    toast(e.message, true);
    return false;
  }
}

// ---------------------------------------------------------------- recordings
function renderRecordings(params) {
  const f = {
    user: el('input', { id: 'f-user', value: params.get('user') || '', placeholder: 'any', size: 12 }),
    target: el('input', { id: 'f-target', value: params.get('target') || '', placeholder: 'any', size: 12 }),
    from: el('input', { id: 'f-from', type: 'date', value: params.get('from') || '' }),
    to: el('input', { id: 'f-to', type: 'date', value: params.get('to') || '' }),
    state: el('select', { id: 'f-state' }, el('option', { value: '' }, 'all'), el('option', { value: 'ended' }, 'ended'), el('option', { value: 'live' }, 'live')),
  };
  f.state.value = params.get('state') || '';
  const form = el('form', { class: 'toolbar' },
    el('h1', {}, 'Recordings'),
    el('label', {}, 'User', f.user), el('label', {}, 'Target', f.target),
    el('label', {}, 'From', f.from), el('label', {}, 'To', f.to), el('label', {}, 'State', f.state),
    el('button', { type: 'submit', class: 'primary' }, 'Filter'),
    el('span', { class: 'spacer' }), el('span', { class: 'muted', id: 'rec-count' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, input] of Object.entries(f)) if (input.value) p.set(k, input.value);
    location.hash = '#/recordings?' + p.toString();
  });
  const body = el('tbody');
  const table = el('table', { class: 'grid', id: 'recordings' },
    el('thead', {}, el('tr', {}, ...['Started', 'User', 'Target', 'Protocol', 'Duration', 'Size', 'State', 'End reason', 'Client']
      .map((h) => el('th', { class: h === 'Duration' || h === 'Size' ? 'num' : '' }, h)))),
    body);
  view.append(form, table);

  const q = new URLSearchParams({ limit: '500' });
  if (f.user.value) q.set('user', f.user.value);
  if (f.target.value) q.set('target', f.target.value);
  if (f.state.value) q.set('state', f.state.value);
  if (f.from.value) q.set('from', new Date(f.from.value + 'T00:00:00').toISOString());
  if (f.to.value) q.set('to', new Date(f.to.value + 'T23:59:59.999').toISOString());
  api('/api/sessions?' + q.toString()).then(({ sessions }) => {
    document.getElementById('rec-count').textContent = sessions.length + ' session' + (sessions.length === 1 ? '' : 's');
    if (!sessions.length) {
      table.replaceWith(el('div', { class: 'empty' }, 'No sessions match these filters.'));
      return;
    }
    for (const s of sessions) {
      const tr = el('tr', { 'data-id': s.id },
        el('td', {}, fmtTime(s.started_at)), el('td', {}, s.user), el('td', {}, s.target),
        el('td', {}, s.protocol.toUpperCase()), el('td', { class: 'num mono' }, fmtDuration(s.duration_ms)),
        el('td', { class: 'num' }, fmtBytes(s.video_bytes)),
        el('td', {}, el('span', { class: 'badge ' + s.state }, s.state)),
        el('td', { class: 'wrap' }, s.end_reason || ''), el('td', { class: 'muted' }, s.client_addr || ''));
      tr.addEventListener('click', () => { location.hash = '#/play/' + encodeURIComponent(s.id); });
      body.append(tr);
    }
  }).catch((e) => toast(e.message, true));
}

// ---------------------------------------------------------------- search
function renderSearch(params) {
  const q = el('input', { id: 'search-q', type: 'search', value: params.get('q') || '', placeholder: 'words and "quoted phrases"', size: 40 });
  const user = el('input', { id: 's-user', value: params.get('user') || '', placeholder: 'any', size: 10 });
  const target = el('input', { id: 's-target', value: params.get('target') || '', placeholder: 'any', size: 10 });
  const from = el('input', { type: 'date', value: params.get('from') || '' });
  const to = el('input', { type: 'date', value: params.get('to') || '' });
  const form = el('form', { class: 'toolbar' },
    el('h1', {}, 'Search'),
    el('label', {}, 'Query', q), el('label', {}, 'User', user), el('label', {}, 'Target', target),
    el('label', {}, 'From', from), el('label', {}, 'To', to),
    el('button', { type: 'submit', class: 'primary' }, 'Search'), el('span', { class: 'spacer' }),
    el('span', { class: 'muted', id: 'search-count' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if (q.value.trim()) p.set('q', q.value.trim());
    if (user.value) p.set('user', user.value);
    if (target.value) p.set('target', target.value);
    if (from.value) p.set('from', from.value);
    if (to.value) p.set('to', to.value);
    location.hash = '#/search?' + p.toString();
  });
  const results = el('div', { id: 'search-results' });
  view.append(form, results);
  document.getElementById('quick-search-input').value = q.value;
  if (!q.value.trim()) {
    results.append(el('div', { class: 'empty' }, 'Search every session\'s typed lines, window titles, clipboard and alerts. ',
      'All words must match (prefixes count); use "quotes" for a phrase.'));
    q.focus();
    return;
  }
  const api_q = new URLSearchParams({ q: q.value.trim(), limit: '1000' });
  if (user.value) api_q.set('user', user.value);
  if (target.value) api_q.set('target', target.value);
  if (from.value) api_q.set('from', new Date(from.value + 'T00:00:00').toISOString());
  if (to.value) api_q.set('to', new Date(to.value + 'T23:59:59.999').toISOString());
  const t0 = performance.now();
  api('/api/search?' + api_q.toString()).then(({ hits }) => {
    const ms = Math.round(performance.now() - t0);
    const groups = new Map();
    for (const h of hits) {
      if (!groups.has(h.session_id)) groups.set(h.session_id, []);
      groups.get(h.session_id).push(h);
    }
    document.getElementById('search-count').textContent =
      `${hits.length} hit${hits.length === 1 ? '' : 's'} in ${groups.size} session${groups.size === 1 ? '' : 's'} · ${ms} ms`;
    if (!hits.length) { results.append(el('div', { class: 'empty' }, 'Nothing found.')); return; }
    const words = q.value.replace(/"/g, ' ').split(/\s+/).filter(Boolean);
    for (const [sid, list] of groups) {
      const first = list[0];
      const group = el('section', { class: 'hit-group', 'data-session': sid },
        el('header', {},
          el('strong', {}, first.user + ' → ' + first.target),
          el('span', { class: 'muted' }, 'session started ' + fmtTime(first.started_at)),
          el('span', { class: 'muted' }, list.length + ' hit' + (list.length === 1 ? '' : 's')),
          el('a', { href: '#/play/' + encodeURIComponent(sid) }, 'open session')));
      for (const h of list) {
        group.append(el('a', { class: 'hit', href: `#/play/${encodeURIComponent(sid)}?t=${h.t_ms}&hl=${h.t_ms}` },
          el('span', { class: 't mono' }, fmtOffset(h.t_ms)),
          el('span', { class: 'kind ' + h.kind }, h.kind),
          el('span', { class: 'mono' }, ...highlight(h.text, words))));
      }
      results.append(group);
    }
  }).catch((e) => results.append(el('div', { class: 'empty error' }, e.message)));
}

// ---------------------------------------------------------------- grants
function renderGrants() {
  if (!ctx.hasRole('security', 'admin')) { view.append(el('div', { class: 'empty' }, 'Issuing access codes needs the security role.')); return; }
  const user = el('input', { id: 'g-user', required: true, size: 16 });
  const target = el('input', { id: 'g-target', required: true, size: 16 });
  const ttl = el('select', { id: 'g-ttl' }, ...[['900', '15 minutes'], ['1800', '30 minutes'], ['3600', '1 hour'], ['14400', '4 hours'], ['86400', '1 day']]
    .map(([v, t]) => el('option', { value: v }, t)));
  ttl.value = '1800';
  const out = el('div', { id: 'grant-result' });
  const form = el('form', { class: 'toolbar' }, el('label', {}, 'User', user), el('label', {}, 'Target', target),
    el('label', {}, 'Valid for', ttl), el('button', { class: 'primary', type: 'submit' }, 'Issue code'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    try {
      const r = await api('/api/grants', { method: 'POST', body: { user: user.value.trim(), target: target.value.trim(), ttl_s: Number(ttl.value) } });
      out.append(el('p', {}, 'One-time access code for ', el('strong', {}, user.value), ' on ', el('strong', {}, target.value), ':'),
        el('div', { class: 'code-box' }, r.code),
        el('p', { class: 'muted' }, 'Valid once, until ' + fmtTime(r.expires_at) + '. It is shown only now.'));
    } catch (e) { out.append(el('p', { class: 'error' }, e.message)); }
  });
  view.append(el('div', { class: 'panel' }, el('h1', {}, 'One-time access codes'),
    el('p', { class: 'muted' }, 'For a user who holds a grant on the target in the gateway config (VNC password, or RDP password instead of their own).'),
    form, out));
}

// ---------------------------------------------------------------- audit
function renderAudit() {
  if (!ctx.hasRole('admin')) { view.append(el('div', { class: 'empty' }, 'The audit log needs the admin role.')); return; }
  const body = el('tbody');
  view.append(el('div', { class: 'toolbar' }, el('h1', {}, 'Audit log'), el('span', { class: 'muted' }, 'who viewed, searched, exported or terminated what')),
    el('table', { class: 'grid', id: 'audit' }, el('thead', {}, el('tr', {}, ...['When', 'Who', 'Action', 'Object', 'Detail'].map((h) => el('th', {}, h)))), body));
  api('/api/audit?limit=1000').then(({ entries }) => {
    for (const a of entries) {
      const obj = a.object && /^[A-Za-z0-9_-]+$/.test(a.object) && ['view', 'export', 'terminate', 'live'].includes(a.action)
        ? el('a', { href: '#/play/' + encodeURIComponent(a.object) }, a.object) : a.object;
      body.append(el('tr', {}, el('td', {}, fmtTime(a.at)), el('td', {}, a.actor), el('td', {}, el('span', { class: 'badge' }, a.action)),
        el('td', { class: 'mono wrap' }, obj), el('td', { class: 'muted wrap' }, a.detail)));
    }
  }).catch((e) => toast(e.message, true));
}

boot();
