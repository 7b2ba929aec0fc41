// Live view: the session's screen over a WebSocket as JPEG tiles (a full
// frame first, then only changed tiles), live events beside it, terminate.
import { api, el, fmtDuration, fmtOffset, fmtTime, toast } from './util.js';

export function renderLive(view, id, ctx) {
  if (!ctx.hasRole('security', 'admin')) {
    view.append(el('div', { class: 'empty' }, 'Watching live sessions needs the security role.'));
    return null;
  }
  const enc = encodeURIComponent(id);
  const canvas = el('canvas', { id: 'live-canvas', width: 1280, height: 800 });
  const g = canvas.getContext('2d');
  const screen = el('div', { class: 'screen' }, canvas);
  const status = el('span', { class: 'status muted', id: 'live-status' }, 'connecting…');
  const title = el('span', { class: 'title', id: 'session-title' }, 'Live session');
  const since = el('span', { class: 'muted' });
  const endReason = el('span', { id: 'end-reason' });
  const terminateBtn = el('button', { class: 'danger', id: 'terminate' }, 'Terminate session');
  const head = el('div', { class: 'session-head' }, title, el('span', { class: 'badge live', id: 'live-badge' }, 'LIVE'), since, endReason,
    el('span', { style: 'flex:1' }), status, el('a', { href: '#/play/' + enc }, 'Replay so far'), terminateBtn);
  const eventsBox = el('div', { class: 'transcript', id: 'live-events' });
  const side = el('aside', { class: 'side' }, el('div', { class: 'side-head' }, el('strong', {}, 'Live events')), eventsBox);
  view.append(el('div', { class: 'live-view' }, el('div', { class: 'stage' }, head, screen), side));

  let ws = null;
  let ended = false;
  let closedByUs = false;
  let frames = 0;
  let lastFrameAt = 0;
  let fpsShown = 0;
  let startedAt = null;
  let chain = Promise.resolve();  // tiles are drawn in arrival order

  function addEvent(e) {
    const line = el('div', { class: 'line ' + e.kind, 'data-t': e.t_ms },
      el('span', { class: 't' }, fmtOffset(e.t_ms)),
      el('span', { class: 'text' }, e.kind === 'key' || e.kind === 'lifecycle' ? e.text : e.kind + ': ' + e.text));
    const atBottom = eventsBox.scrollTop + eventsBox.clientHeight >= eventsBox.scrollHeight - 20;
    eventsBox.append(line);
    if (atBottom) eventsBox.scrollTop = eventsBox.scrollHeight;
  }

  function showEnded(reason) {
    if (ended) return;
    ended = true;
    terminateBtn.disabled = true;
    const badge = document.getElementById('live-badge');
    if (badge) { badge.className = 'badge ended'; badge.textContent = 'ended'; }
    endReason.replaceChildren('Ended: ', el('strong', {}, reason || 'ended'));
    status.textContent = 'session over';
    screen.append(el('div', { class: 'overlay', id: 'ended-overlay' }, el('span', {}, 'Session ended'),
      el('span', { class: 'reason' }, reason || 'ended'), el('a', { href: '#/play/' + enc }, 'Replay the recording')));
  }

  async function drawFrame(buf) {
    const dv = new DataView(buf);
    if (dv.getUint8(0) !== 1) return;
    const full = dv.getUint8(1) & 1;
    const w = dv.getUint16(2, true), h = dv.getUint16(4, true), n = dv.getUint16(6, true);
    if (full && (canvas.width !== w || canvas.height !== h)) { canvas.width = w; canvas.height = h; }
    let off = 16;
    const tiles = [];
    for (let i = 0; i < n; i++) {
      const x = dv.getUint16(off, true), y = dv.getUint16(off + 2, true);
      const len = dv.getUint32(off + 8, true);
      off += 12;
      tiles.push({ x, y, blob: new Blob([new Uint8Array(buf, off, len)], { type: 'image/jpeg' }) });
      off += len;
    }
    const bitmaps = await Promise.all(tiles.map((t) => createImageBitmap(t.blob)));
    bitmaps.forEach((bm, i) => { g.drawImage(bm, tiles[i].x, tiles[i].y); bm.close(); });
    frames++;
    lastFrameAt = performance.now();
  }

  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(proto + '//' + location.host + '/api/sessions/' + enc + '/live');
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => { status.textContent = 'connected'; };
    ws.onmessage = (m) => {
      if (typeof m.data !== 'string') {
        const buf = m.data;
        chain = chain.then(() => drawFrame(buf)).catch((e) => console.error(e));
        return;
      }
      const msg = JSON.parse(m.data);
      if (msg.type === 'hello') {
        title.replaceChildren(msg.user, el('span', { class: 'muted' }, ' → '), msg.target);
      } else if (msg.type === 'event') {
        addEvent(msg);
      } else if (msg.type === 'ended') {
        chain.then(() => showEnded(msg.reason));
      }
    };
    ws.onclose = async () => {
      if (closedByUs || ended) return;
      status.textContent = 'disconnected';
      try {
        const s = await api('/api/sessions/' + enc);
        if (s.state === 'ended') showEnded(s.end_reason);
        else {
          status.textContent = 'connection lost — retrying';
          setTimeout(() => { if (!closedByUs && !ended) connect(); }, 2000);
        }
      } catch (e) { status.textContent = 'connection lost'; }
    };
  }

  terminateBtn.addEventListener('click', async () => {
    const ok = await ctx.terminate({ id, user: title.textContent.split(' → ')[0], target: title.textContent.split(' → ')[1] || '' });
    if (!ok) return;
    status.textContent = 'terminating…';
    // The socket reports the end; poll too, in case this node does not hold the session.
    for (let i = 0; i < 20 && !ended && !closedByUs; i++) {
      await new Promise((r) => setTimeout(r, 500));
      try {
        const s = await api('/api/sessions/' + enc);
        if (s.state === 'ended') { showEnded(s.end_reason); break; }
      } catch (e) { break; }
    }
  });

  const statTimer = setInterval(() => {
    if (ended) return;
    const fps = frames - fpsShown;
    fpsShown = frames;
    if (ws && ws.readyState === WebSocket.OPEN) {
      const age = lastFrameAt ? (performance.now() - lastFrameAt) / 1000 : null;
      status.textContent = `${fps} fps · ${age === null ? 'waiting for picture' : 'last change ' + age.toFixed(1) + ' s ago'}` +
        (startedAt ? ' · ' + fmtDuration(Date.now() - startedAt) : '');
    }
  }, 1000);

  api('/api/sessions/' + enc).then((s) => {
    startedAt = Date.parse(s.started_at);
    since.textContent = s.protocol.toUpperCase() + ' · since ' + fmtTime(s.started_at) + (s.client_addr ? ' · from ' + s.client_addr : '');
    title.replaceChildren(s.user, el('span', { class: 'muted' }, ' → '), s.target);
    if (s.state === 'ended') { showEnded(s.end_reason); return; }
    return api('/api/sessions/' + enc + '/events').then(({ events }) => {
      // Earlier events first; the socket adds the new ones.
      const live = [...eventsBox.children];
      eventsBox.replaceChildren();
      for (const e of events) addEvent(e);
      eventsBox.append(...live);
      eventsBox.scrollTop = eventsBox.scrollHeight;
    });
  }).catch((e) => toast(e.message, true));
  connect();

  return () => {
    closedByUs = true;
    clearInterval(statTimer);
    if (ws) ws.close();
  };
}
