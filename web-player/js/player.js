// Replay: the recording (fragmented MP4, played as it is over Range
// requests), a timeline with event markers, a transcript synced to playback,
// speed, quiet-stretch skipping and keyboard shortcuts.
import { api, el, fmtBytes, fmtDuration, fmtOffset, fmtTime, toast } from './util.js';

const KINDS = ['key', 'title', 'clipboard', 'alert', 'lifecycle'];
const SPEEDS = [0.5, 1, 1.5, 2, 4, 8, 16];
const IDLE_MS = 20000;  // no event for this long: a quiet stretch

export function renderPlayer(view, id, params, ctx) {
  if (!id) { view.append(el('div', { class: 'empty' }, 'No session given.')); return null; }
  const startMs = params.has('t') ? Number(params.get('t')) : null;
  const hlMs = params.has('hl') ? Number(params.get('hl')) : null;
  const enc = encodeURIComponent(id);

  const video = el('video', { id: 'video', preload: 'auto', playsinline: true, src: '/api/sessions/' + enc + '/video' });
  video.muted = true;  // recordings have no sound; muted lets autoplay start at once
  const head = el('div', { class: 'session-head' }, el('span', { class: 'title' }, 'Loading session…'));
  const timeLabel = el('span', { class: 'time mono', id: 'time' }, '0:00 / 0:00');
  const playBtn = el('button', { id: 'play', title: 'Play/pause (space)' }, '▶ Play');
  const speed = el('select', { id: 'speed', title: 'Speed ([ and ])' }, ...SPEEDS.map((s) => el('option', { value: s }, s + '×')));
  speed.value = '1';
  const skipIdle = el('button', { id: 'skip-idle', title: 'Skip quiet stretches (i)' }, 'Skip quiet: off');
  const prevBtn = el('button', { title: 'Previous event (,)' }, '‹ Event');
  const nextBtn = el('button', { title: 'Next event (.)' }, 'Event ›');
  const back = el('button', { title: 'Back 5 s (←)' }, '−5 s');
  const fwd = el('button', { title: 'Forward 5 s (→)' }, '+5 s');
  const timeline = el('div', { class: 'timeline', id: 'timeline', title: 'Click to seek' });
  const progress = el('div', { class: 'progress' });
  const playhead = el('div', { class: 'head' });
  const legend = el('div', { class: 'legend' }, ...KINDS.map((k) => el('span', {}, el('i', { style: `background: var(--${k})` }), k)),
    el('span', {}, el('i', { style: 'background: var(--warn)' }), 'search hit'),
    el('span', {}, el('i', { class: 'idle-swatch', style: 'background: #1b2230; border: 1px solid #2a3646' }), 'quiet'));
  const videoWrap = el('div', { class: 'video-wrap' }, video);
  const stage = el('div', { class: 'stage' }, head, videoWrap,
    el('div', { class: 'controls' }, playBtn, back, fwd, timeLabel, el('label', { class: 'inline' }, speed), skipIdle, prevBtn, nextBtn,
      el('span', { style: 'flex:1' }), el('span', { class: 'muted', id: 'buffer-info' })),
    timeline, legend);

  const filterBoxes = {};
  const filters = el('div', { class: 'side-head' }, el('strong', {}, 'Transcript'),
    ...KINDS.map((k) => {
      const cb = el('input', { type: 'checkbox', checked: true });
      filterBoxes[k] = cb;
      cb.addEventListener('change', renderTranscript);
      return el('label', { class: 'kind ' + k, style: 'flex-direction:row;align-items:center;gap:2px;min-width:0' }, cb, k);
    }));
  const find = el('input', { type: 'search', placeholder: 'filter lines', size: 14, id: 'transcript-filter' });
  find.addEventListener('input', renderTranscript);
  filters.append(find);
  const transcript = el('div', { class: 'transcript', id: 'transcript' });
  const help = el('div', { class: 'help' },
    el('kbd', {}, 'space'), ' play · ', el('kbd', {}, '←'), el('kbd', {}, '→'), ' 5 s (', el('kbd', {}, 'shift'), ' 30 s) · ',
    el('kbd', {}, '['), el('kbd', {}, ']'), ' speed · ', el('kbd', {}, ','), el('kbd', {}, '.'), ' events · ',
    el('kbd', {}, 'i'), ' skip quiet · ', el('kbd', {}, 'f'), ' full screen · ', el('kbd', {}, '0'), '–', el('kbd', {}, '9'), ' jump');
  const side = el('aside', { class: 'side' }, filters, transcript, help);
  view.append(el('div', { class: 'player' }, stage, side));

  let session = null;
  let events = [];
  let idle = [];  // [startMs, endMs]
  let totalMs = 0;
  let skipping = false;
  let followUntil = 0;  // the user scrolled the transcript: stop following for a while
  let started = false;
  let lastCurrent = null;
  const disposers = [];

  function durationMs() {
    const d = video.duration;
    const fromVideo = Number.isFinite(d) ? d * 1000 : 0;
    return Math.max(fromVideo, totalMs, 1);
  }

  function seekMs(ms) {
    ms = Math.max(0, Math.min(ms, durationMs() - 50));
    video.currentTime = ms / 1000;
    updateTime();
  }

  function updateTime() {
    const now = video.currentTime * 1000;
    timeLabel.textContent = fmtOffset(now) + ' / ' + fmtDuration(durationMs());
    const pct = Math.min(100, (now / durationMs()) * 100);
    progress.style.width = pct + '%';
    playhead.style.left = pct + '%';
    playBtn.textContent = video.paused ? '▶ Play' : '❚❚ Pause';
    markCurrent(now);
    if (skipping && !video.paused) {
      const s = idle.find(([a, b]) => now >= a + 1000 && now < b - 1500);
      if (s) seekMs(s[1] - 1500);
    }
  }

  function markCurrent(now) {
    let cur = null;
    for (const line of transcript.children) {
      if (Number(line.dataset.t) <= now) cur = line; else break;
    }
    if (cur === lastCurrent) return;
    if (lastCurrent) lastCurrent.classList.remove('current');
    if (cur) {
      cur.classList.add('current');
      if (Date.now() > followUntil) cur.scrollIntoView({ block: 'nearest' });
    }
    lastCurrent = cur;
  }

  function renderTimeline() {
    timeline.replaceChildren(progress);
    const total = durationMs();
    for (const [a, b] of idle) {
      timeline.append(el('div', { class: 'idle', style: `left:${(a / total) * 100}%;width:${((b - a) / total) * 100}%`, title: 'quiet ' + fmtDuration(b - a) }));
    }
    for (const e of events) {
      const m = el('div', { class: 'marker ' + e.kind + (hlMs !== null && e.t_ms === hlMs ? ' hit' : ''), style: `left:${(e.t_ms / total) * 100}%`, title: fmtOffset(e.t_ms) + ' ' + e.kind + ': ' + e.text, 'data-t': e.t_ms });
      // An alert's marker seeks to its exact moment (a click elsewhere seeks by position).
      if (e.kind === 'alert') {
        m.addEventListener('click', (ev) => { ev.stopPropagation(); seekMs(e.t_ms); video.play().catch(() => {}); });
      }
      timeline.append(m);
    }
    timeline.append(playhead);
  }

  // Clipboard lines say which way the text went: an auditor must tell a paste in from a copy out.
  function kindLabel(e) {
    if (e.kind !== 'clipboard') return e.kind;
    if (e.direction === 'client_to_target') return 'clipboard → target';
    if (e.direction === 'target_to_client') return 'clipboard → client';
    return e.kind;
  }

  function renderTranscript() {
    const needle = find.value.trim().toLowerCase();
    transcript.replaceChildren();
    lastCurrent = null;
    for (const e of events) {
      if (!filterBoxes[e.kind].checked) continue;
      if (needle && !e.text.toLowerCase().includes(needle)) continue;
      const line = el('div', { class: 'line ' + e.kind + (hlMs !== null && e.t_ms === hlMs ? ' hit' : ''), 'data-t': e.t_ms, title: e.kind + (e.window ? ' in ' + e.window : '') },
        el('span', { class: 't' }, fmtOffset(e.t_ms)), el('span', { class: 'text' }, e.kind === 'key' ? e.text : (e.kind === 'lifecycle' ? e.text : kindLabel(e) + ': ' + e.text)));
      line.addEventListener('click', () => { seekMs(e.t_ms); video.play().catch(() => {}); });
      transcript.append(line);
    }
    markCurrent(video.currentTime * 1000);
  }

  function computeIdle() {
    idle = [];
    const times = [0, ...events.map((e) => e.t_ms), durationMs()];
    for (let i = 1; i < times.length; i++) {
      if (times[i] - times[i - 1] >= IDLE_MS) idle.push([times[i - 1], times[i]]);
    }
  }

  function jumpEvent(dir) {
    const now = video.currentTime * 1000;
    const list = dir > 0 ? events.filter((e) => e.t_ms > now + 300) : events.filter((e) => e.t_ms < now - 1000);
    const e = dir > 0 ? list[0] : list[list.length - 1];
    if (e) seekMs(e.t_ms);
  }

  function setSpeed(v) {
    speed.value = String(v);
    video.playbackRate = v;
  }
  function stepSpeed(dir) {
    const i = SPEEDS.indexOf(Number(speed.value));
    setSpeed(SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, i + dir))]);
  }
  function toggleSkip() {
    skipping = !skipping;
    skipIdle.textContent = 'Skip quiet: ' + (skipping ? 'on' : 'off');
    skipIdle.classList.toggle('active', skipping);
  }

  playBtn.addEventListener('click', () => (video.paused ? video.play().catch(() => {}) : video.pause()));
  back.addEventListener('click', () => seekMs(video.currentTime * 1000 - 5000));
  fwd.addEventListener('click', () => seekMs(video.currentTime * 1000 + 5000));
  prevBtn.addEventListener('click', () => jumpEvent(-1));
  nextBtn.addEventListener('click', () => jumpEvent(1));
  speed.addEventListener('change', () => setSpeed(Number(speed.value)));
  skipIdle.addEventListener('click', toggleSkip);
  timeline.addEventListener('click', (ev) => {
    const r = timeline.getBoundingClientRect();
    seekMs(((ev.clientX - r.left) / r.width) * durationMs());
  });
  transcript.addEventListener('wheel', () => { followUntil = Date.now() + 4000; }, { passive: true });
  video.addEventListener('click', () => (video.paused ? video.play().catch(() => {}) : video.pause()));
  for (const evName of ['timeupdate', 'play', 'pause', 'seeked']) video.addEventListener(evName, updateTime);
  video.addEventListener('durationchange', () => { renderTimeline(); updateTime(); });
  video.addEventListener('error', () => {
    const code = video.error ? video.error.code : 0;
    const why = el('span', { class: 'muted' }, code === 4 ? 'No recording file for this session (or an unsupported format).' : 'Media error ' + code);
    videoWrap.append(el('div', { class: 'overlay' }, el('span', { class: 'reason' }, 'The recording cannot be played'), why));
    // The gateway stops serving at the first record that fails to
    // authenticate: say so rather than blame the format.
    if (integrity) integrity.then((r) => {
      if (!r.verified) why.textContent = 'The recording file failed its integrity check (see the warning above): the gateway serves only the part it can authenticate.';
    }, () => {});
  });
  video.addEventListener('loadedmetadata', () => {
    if (started) return;
    started = true;
    if (startMs !== null && Number.isFinite(startMs)) seekMs(startMs);
    video.play().catch(() => {});
  });
  video.addEventListener('progress', () => {
    const b = video.buffered;
    document.getElementById('buffer-info').textContent = b.length ? 'buffered ' + fmtDuration(b.end(b.length - 1) * 1000) : '';
  });

  function onKey(ev) {
    if (ev.target && (ev.target.tagName === 'INPUT' || ev.target.tagName === 'SELECT' || ev.target.tagName === 'TEXTAREA')) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const step = ev.shiftKey ? 30000 : 5000;
    switch (ev.key) {
      case ' ': case 'k': video.paused ? video.play().catch(() => {}) : video.pause(); break;
      case 'ArrowLeft': seekMs(video.currentTime * 1000 - step); break;
      case 'ArrowRight': seekMs(video.currentTime * 1000 + step); break;
      case '[': stepSpeed(-1); break;
      case ']': stepSpeed(1); break;
      case ',': jumpEvent(-1); break;
      case '.': jumpEvent(1); break;
      case 'i': toggleSkip(); break;
      case 'f': document.fullscreenElement ? document.exitFullscreen() : videoWrap.requestFullscreen().catch(() => {}); break;
      case 'Home': seekMs(0); break;
      case 'End': seekMs(durationMs()); break;
      default:
        if (/^[0-9]$/.test(ev.key)) seekMs((Number(ev.key) / 10) * durationMs());
        else return;
    }
    ev.preventDefault();
  }
  document.addEventListener('keydown', onKey);
  disposers.push(() => document.removeEventListener('keydown', onKey));

  // Whether the recording and events match their signed hash chain: a badge
  // when they do, a warning naming the first difference when they do not.
  const verifyBadge = el('div', { class: 'integrity pending', id: 'integrity' }, 'Checking integrity…');
  let integrity = null;  // the /verify answer, once asked
  function checkIntegrity() {
    integrity = api('/api/sessions/' + enc + '/verify');
    integrity.then((r) => {
      verifyBadge.className = 'integrity ' + (r.verified ? 'ok' : 'bad');
      verifyBadge.replaceChildren(
        el('strong', {}, r.verified ? '✔ Verified' : '⚠ Integrity check failed'),
        el('span', {}, ' — ' + r.detail));
      verifyBadge.title = r.verified ? 'The recording and events match their signed hash chain' : 'This session differs from what the gateway signed';
    }).catch((e) => {
      verifyBadge.className = 'integrity bad';
      verifyBadge.replaceChildren(el('strong', {}, '⚠ Integrity not checked'), el('span', {}, ' — ' + e.message));
    });
  }

  Promise.all([api('/api/sessions/' + enc), api('/api/sessions/' + enc + '/events')]).then(([s, ev]) => {
    session = s;
    events = ev.events;
    totalMs = s.duration_ms;
    head.replaceChildren(...[
      el('span', { class: 'title', id: 'session-title' }, s.user, el('span', { class: 'muted' }, ' → '), s.target),
      el('span', { class: 'badge ' + s.state }, s.state),
      el('span', { class: 'muted' }, s.protocol.toUpperCase() + ' · ' + fmtTime(s.started_at) + ' · ' + fmtDuration(s.duration_ms) + ' · ' + fmtBytes(s.video_bytes) +
        (s.width ? ' · ' + s.width + '×' + s.height : '') + (s.client_addr ? ' · from ' + s.client_addr : '')),
      s.end_reason ? el('span', { id: 'end-reason' }, 'Ended: ', el('strong', {}, s.end_reason)) : null,
      el('span', { style: 'flex:1' }),
      s.state === 'live' && ctx.hasRole('security', 'admin') ? el('a', { href: '#/watch/' + enc }, 'Watch live') : null,
      el('a', { href: '/api/sessions/' + enc + '/video?download=1', download: 'vigil-' + s.id + '.mp4' }, 'Export MP4'),
      el('a', { href: '/api/sessions/' + enc + '/bundle', download: 'vigil-' + s.id + '-evidence.zip', id: 'bundle-link' }, 'Evidence bundle'),
    ].filter(Boolean));
    head.after(verifyBadge);
    checkIntegrity();
    computeIdle();
    renderTimeline();
    renderTranscript();
    if (hlMs !== null) {
      const hit = transcript.querySelector('.line.hit');
      if (hit) hit.scrollIntoView({ block: 'center' });
    }
    updateTime();
  }).catch((e) => {
    head.replaceChildren(el('span', { class: 'error' }, e.message));
    toast(e.message, true);
  });

  return () => {
    for (const d of disposers) d();
    video.pause();
    video.removeAttribute('src');
    video.load();
  };
}
