// Measures the web player in headless Chromium against api_fixture_server.
// Run through bench/web/run.sh, which makes the 1-hour recording.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(root, 'tests', 'e2e', 'package.json'));
const { chromium } = require('playwright-core');

const SEARCH_EVENTS = Number(process.env.VIGIL_BENCH_SEARCH_EVENTS || 200000);
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(0)} ms, p95 ${pct(xs, 95).toFixed(0)} ms, p99 ${pct(xs, 99).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms (n=${xs.length})`;

const lines = [];
const proc = spawn(process.env.VIGIL_FIXTURE_SERVER, ['--web-root', process.env.VIGIL_WEB_ROOT, '--workdir', process.env.VIGIL_BENCH_WORK,
  '--video', process.env.VIGIL_BENCH_VIDEO, '--duration-s', '3600', '--search-events', String(SEARCH_EVENTS), '--paint-log', '1'],
{ stdio: ['pipe', 'pipe', 'inherit'] });
let buf = '';
proc.stdout.on('data', (d) => { buf += d; const l = buf.split('\n'); buf = l.pop(); lines.push(...l); });
const ready = await new Promise((resolve, reject) => {
  const t = setInterval(() => { const l = lines.find((x) => x.startsWith('READY')); if (l) { clearInterval(t); resolve(l); } }, 50);
  setTimeout(() => reject(new Error('fixture server did not start')), 300000);
});
const base = 'http://127.0.0.1:' + ready.match(/port=(\d+)/)[1];
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1440, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(base + '/');
  await page.fill('#login-user', 'sec');
  await page.fill('#login-password', 'sec-pw');
  await page.click('#login-submit');
  await page.waitForSelector('#who-name:not(:empty)');

  // Time to first frame: open the player fresh, until a frame is presented.
  const ttff = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(base + '/#/recordings');
    await page.waitForSelector('#recordings tbody tr');
    const t = await page.evaluate(() => new Promise((resolve) => {
      const t0 = performance.now();
      location.hash = '#/play/rec1';
      const poll = () => {
        const v = document.getElementById('video');
        if (!v) return setTimeout(poll, 5);
        v.requestVideoFrameCallback(() => resolve(performance.now() - t0));
      };
      poll();
    }));
    ttff.push(t);
  }
  console.log('time to first frame (1-hour recording): ' + fmt(ttff));

  // Seek latency: random positions over the hour, until the frame there is shown.
  const seeks = await page.evaluate(async () => {
    const v = document.getElementById('video');
    v.pause();
    const out = [];
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    for (let i = 0; i < 40; i++) {
      const target = rnd() * (v.duration - 5);
      const t0 = performance.now();
      await new Promise((resolve) => {
        v.requestVideoFrameCallback(() => resolve());
        v.currentTime = target;
      });
      out.push(performance.now() - t0);
    }
    return out;
  });
  console.log('seek latency (paused, random positions): ' + fmt(seeks));

  // Live latency: the fixture prints PAINT epoch_ms per screen change; the
  // page notes when its canvas pixels change.
  await page.goto(base + '/#/watch/live1');
  await page.waitForFunction(() => document.getElementById('live-canvas')?.width === 1024, null, { timeout: 10000 });
  const changes = await page.evaluate(() => new Promise((resolve) => {
    const c = document.getElementById('live-canvas');
    const g = c.getContext('2d', { willReadFrequently: true });
    const seen = [];
    let last = null;
    const end = Date.now() + 10000;
    const step = () => {
      const d = g.getImageData(0, 600, 8, 8).data;  // the status bar flips every change
      const h = d[0] * 65536 + d[1] * 256 + d[2];
      if (last !== null && h !== last) seen.push(Date.now());
      last = h;
      if (Date.now() < end) requestAnimationFrame(step); else resolve(seen);
    };
    requestAnimationFrame(step);
  }));
  const paints = lines.filter((l) => l.startsWith('PAINT ')).map((l) => Number(l.split(' ')[1]));
  const live = [];
  for (const t of changes) {
    const p = paints.filter((x) => x <= t).pop();
    if (p) live.push(t - p);
  }
  console.log('live latency (server screen change → browser pixels): ' + fmt(live));

  // Search through the API (HTTP Basic, the store's search included).
  const auth = 'Basic ' + Buffer.from('aud:aud-pw').toString('base64');
  const queries = ['cmd17 node3', 'value12345', 'cmd5', 'host node88', 'ipconfig', 'net user backdoor', 'nothingmatches'];
  const search = [];
  for (let i = 0; i < 100; i++) {
    const q = queries[i % queries.length];
    const t0 = performance.now();
    const r = await fetch(base + '/api/search?limit=100&q=' + encodeURIComponent(q), { headers: { Authorization: auth } });
    await r.json();
    search.push(performance.now() - t0);
  }
  console.log(`search latency via API over ${SEARCH_EVENTS} events (in-memory fake store, linear scan): ` + fmt(search));
  const list = [];
  for (let i = 0; i < 100; i++) {
    const t0 = performance.now();
    const r = await fetch(base + '/api/sessions?limit=100', { headers: { Authorization: auth } });
    await r.json();
    list.push(performance.now() - t0);
  }
  console.log('GET /api/sessions?limit=100 (API overhead): ' + fmt(list));
} finally {
  await ctx.close();
  proc.stdin.end();
  proc.kill('SIGTERM');
  fs.rmSync(profile, { recursive: true, force: true });
}
