// Browser tests of the web player: Debian's Chromium driven by playwright-core
// against api_fixture_server (the real ApiServer + web-player over a seeded
// store, a real H.264 fMP4 recording and a fake live session).
// Env: VIGIL_FIXTURE_SERVER, VIGIL_WEB_ROOT, VIGIL_E2E_WORKDIR (set by ctest).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { external, loadChromium, openPage, removeProfiles } from './chromium.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(here, 'screenshots');
const SERVER = process.env.VIGIL_FIXTURE_SERVER;
const WEB_ROOT = process.env.VIGIL_WEB_ROOT || path.join(here, '..', '..', 'web-player');
const WORKDIR = process.env.VIGIL_E2E_WORKDIR || fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-e2e-'));
const DURATION_S = 60;

let chromium;
let proc;
let base;
let browser;
const serverLines = [];

function waitForLine(re, timeoutMs) {
  return new Promise((resolve, reject) => {
    const found = serverLines.find((l) => re.test(l));
    if (found) return resolve(found);
    const timer = setTimeout(() => reject(new Error('timed out waiting for ' + re + ' from the fixture server')), timeoutMs);
    const onData = () => {
      const l = serverLines.find((x) => re.test(x));
      if (l) { clearTimeout(timer); proc.stdout.off('data', onData); resolve(l); }
    };
    proc.stdout.on('data', onData);
  });
}

async function newPage(user, password) {
  const { page, context } = await openPage(chromium);
  if (user) {
    await page.goto(base + '/');
    await page.fill('#login-user', user);
    await page.fill('#login-password', password);
    await page.click('#login-submit');
    await page.waitForSelector('#who-name:not(:empty)');
  }
  return { page, context };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + '.png') });
}

before(async () => {
  chromium = await loadChromium();
  assert.ok(SERVER && fs.existsSync(SERVER), 'VIGIL_FIXTURE_SERVER must name the built api_fixture_server');
  fs.mkdirSync(SHOTS, { recursive: true });
  fs.mkdirSync(WORKDIR, { recursive: true });
  proc = spawn(SERVER, ['--web-root', WEB_ROOT, '--workdir', WORKDIR, '--duration-s', String(DURATION_S)],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  let buf = '';
  proc.stdout.on('data', (d) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop();
    serverLines.push(...lines);
  });
  const ready = await waitForLine(/^READY port=\d+/, 120000);
  base = 'http://127.0.0.1:' + ready.match(/port=(\d+)/)[1];
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (proc) { proc.stdin.end(); proc.kill('SIGTERM'); }
  removeProfiles();
});

test('sign-in page refuses a wrong password, then signs in', async () => {
  const { page, context } = await newPage();
  try {
    await page.goto(base + '/');
    await page.waitForSelector('#login-form');
    await shot(page, '01-sign-in');
    await page.fill('#login-user', 'aud');
    await page.fill('#login-password', 'wrong');
    await page.click('#login-submit');
    await page.waitForSelector('#login-error:not([hidden])');
    assert.match(await page.textContent('#login-error'), /wrong user name or password/);
    await page.fill('#login-password', 'aud-pw');
    await page.click('#login-submit');
    await page.waitForSelector('#who-name:not(:empty)');
    assert.equal(await page.textContent('#who-name'), 'aud');
    // HttpOnly: the page's script cannot read the session cookie.
    assert.equal(await page.evaluate(() => document.cookie), '');
    await page.waitForSelector('#live-cards .card');
    await shot(page, '02-live-sessions-auditor');
  } finally { await context.close(); }
});

test('search a typed line, open the hit: the video plays at that moment and the transcript marks it', async () => {
  const { page, context } = await newPage('aud', 'aud-pw');
  try {
    await page.fill('#quick-search-input', 'net user backdoor');
    await page.press('#quick-search-input', 'Enter');
    await page.waitForSelector('.hit-group .hit');
    const groups = await page.$$('.hit-group');
    assert.equal(groups.length, 1);
    const hitText = await page.textContent('.hit-group .hit');
    assert.match(hitText, /net user backdoor Passw0rd! \/add/);
    await shot(page, '03-search-results');

    const href = await page.getAttribute('.hit-group .hit', 'href');
    const tMs = Number(new URLSearchParams(href.split('?')[1]).get('t'));
    assert.ok(tMs > 20000 && tMs < 30000, 'hit at ' + tMs);
    const t0 = Date.now();
    await page.click('.hit-group .hit');
    // Playing (time advancing) within ±1 s of the hit.
    await page.waitForFunction((t) => {
      const v = document.getElementById('video');
      return v && !v.paused && v.readyState >= 3 && Math.abs(v.currentTime * 1000 - t) <= 1000;
    }, tMs, { timeout: 10000, polling: 20 });
    const elapsed = Date.now() - t0;
    console.log(`video playing at the hit ${elapsed} ms after the click`);
    const ct1 = await page.evaluate(() => document.getElementById('video').currentTime);
    await page.waitForTimeout(400);
    const ct2 = await page.evaluate(() => document.getElementById('video').currentTime);
    assert.ok(ct2 > ct1, 'the video advances');
    assert.ok(Math.abs(ct1 * 1000 - tMs) <= 1000, `currentTime ${ct1} s vs hit ${tMs} ms`);
    assert.ok(elapsed <= 1000, `playing ${elapsed} ms after the click (want ≤ 1000 ms)`);

    const marked = await page.$eval('#transcript .line.hit', (e) => e.textContent);
    assert.match(marked, /net user backdoor/);
    // The current line follows playback from the hit on.
    const cur = Number(await page.getAttribute('#transcript .line.current', 'data-t'));
    assert.ok(cur >= tMs && cur <= tMs + 3000, `current transcript line at ${cur} ms`);
    const markers = await page.$$eval('#timeline .marker', (ms) => ms.map((m) => m.className));
    for (const k of ['key', 'title', 'clipboard', 'alert', 'lifecycle', 'hit']) {
      assert.ok(markers.some((c) => c.split(' ').includes(k)), 'timeline marker ' + k);
    }
    await shot(page, '04-player-at-hit');
    // A clipboard line says which way the text went (a paste into the target).
    const clip = await page.$eval('#transcript .line.clipboard', (e) => e.textContent);
    assert.ok(clip.includes('clipboard → target: \\\\fileserver'), clip);

    // Transcript click seeks; keyboard shortcuts change speed and seek.
    await page.click('#transcript .line:has-text("reg query")');
    await page.waitForFunction(() => Math.abs(document.getElementById('video').currentTime - 45) < 1.5, null, { timeout: 5000 });
    await page.keyboard.press(']');
    await page.keyboard.press(']');
    assert.equal(await page.evaluate(() => document.getElementById('video').playbackRate), 2);
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('Space');
    assert.equal(await page.evaluate(() => document.getElementById('video').paused), true);
    await shot(page, '05-player-transcript-seek');
  } finally { await context.close(); }
});

test('recordings list with filters, duration and size', async () => {
  const { page, context } = await newPage('aud', 'aud-pw');
  try {
    await page.goto(base + '/#/recordings?state=ended');
    await page.waitForSelector('#recordings tbody tr');
    const rows = await page.$$eval('#recordings tbody tr', (trs) => trs.map((tr) => tr.textContent));
    assert.equal(rows.length, 2);
    assert.match(rows[0], /vendor1/);
    assert.match(rows[0], /1:00/);  // 60 s
    assert.match(rows[0], /KB|MB/);
    await shot(page, '06-recordings');
    await page.goto(base + '/#/recordings?user=nobody');
    await page.waitForSelector('.empty');
  } finally { await context.close(); }
});

test('a rule alert: a toast on every page, a badge on the live card, a marker in the player', async () => {
  const sec = await newPage('sec', 'sec-pw');
  const aud = await newPage('aud', 'aud-pw');
  const other = await newPage('sec', 'sec-pw');
  try {
    const { page } = sec;
    await page.goto(base + '/#/live');
    await page.waitForSelector('#live-cards .card[data-id="live1"]');
    await other.page.goto(base + '/#/recordings');
    await other.page.waitForSelector('#recordings tbody tr');
    assert.equal(await page.$('.alert-toast'), null, 'no toast before the alert');
    await page.waitForTimeout(2500);  // both pages have read the backlog

    const T_MS = 36000;
    const raised = Date.now();
    proc.stdin.write(`ALERT live1 ${T_MS} local account created\n`);
    await waitForLine(new RegExp(`^ALERTED live1 ${T_MS}$`), 5000);

    // The toast names rule, user, target and session, on the Live page and on any other page.
    for (const p of [page, other.page]) {
      await p.waitForSelector('.alert-toast[data-session="live1"]', { timeout: 5000 });
      const text = await p.textContent('.alert-toast[data-session="live1"]');
      for (const want of ['local account created', 'vendor1', 'dc01', 'live1', '0:36', '[masked]']) {
        assert.ok(text.includes(want), `toast shows ${want}: ${text}`);
      }
      assert.ok(!text.includes('S3cret'), 'no secret in the toast');
    }
    console.log(`alert toast shown ${Date.now() - raised} ms after the alert was raised`);
    assert.ok(Date.now() - raised <= 5000);

    // The live card carries a badge naming the count and linking to the alert.
    await page.waitForSelector('#live-cards .card[data-id="live1"] .alert-badge');
    assert.match(await page.textContent('#live-cards .card[data-id="live1"] .alert-badge'), /1 alert\b/);
    await shot(page, '13-alert-toast-live-card');
    await shot(other.page, '14-alert-toast-other-page');

    // The toast's link opens the player at the alert's second; the timeline has a
    // marker there, and clicking it seeks there.
    await page.click('.alert-toast[data-session="live1"] a.open');
    await page.waitForSelector('#timeline .marker.alert[data-t="36000"]');
    await page.waitForFunction((t) => {
      const v = document.getElementById('video');
      return v && v.readyState >= 2 && Math.abs(v.currentTime * 1000 - t) <= 1000;
    }, T_MS, { timeout: 10000 });
    const pos = await page.evaluate(() => {
      const tl = document.getElementById('timeline').getBoundingClientRect();
      const m = document.querySelector('#timeline .marker.alert[data-t="36000"]').getBoundingClientRect();
      const total = document.getElementById('time').textContent.split('/')[1].trim().split(':').map(Number);
      const totalMs = (total.length === 3 ? total[0] * 3600 + total[1] * 60 + total[2] : total[0] * 60 + total[1]) * 1000;
      return { frac: (m.left + m.width / 2 - tl.left) / tl.width, totalMs };
    });
    const atMs = pos.frac * pos.totalMs;
    assert.ok(Math.abs(atMs - T_MS) <= 1500, `marker at ${atMs.toFixed(0)} ms of ${pos.totalMs} (want ${T_MS})`);
    assert.match(await page.textContent('#transcript .line.alert.hit'), /local account created/);
    await page.evaluate(() => { const v = document.getElementById('video'); v.pause(); v.currentTime = 5; });
    await page.click('#timeline .marker.alert[data-t="36000"]');
    await page.waitForFunction((t) => Math.abs(document.getElementById('video').currentTime * 1000 - t) <= 500, T_MS, { timeout: 5000 });
    await page.evaluate(() => document.getElementById('video').pause());
    await page.waitForFunction(() => { const v = document.getElementById('video'); return !v.seeking && v.readyState >= 2; }, null, { timeout: 5000 });
    await page.waitForTimeout(300);  // the paused frame is painted
    await page.hover('#timeline .marker.alert[data-t="36000"]');
    await shot(page, '15-player-alert-marker');

    // Auditors see the marker in the player, but no toast (alerts are for security staff).
    await aud.page.goto(base + '/#/play/live1');
    await aud.page.waitForSelector('#timeline .marker.alert[data-t="36000"]');
    await aud.page.waitForTimeout(2500);
    assert.equal(await aud.page.$('.alert-toast'), null, 'no toast for an auditor');
  } finally {
    await sec.context.close();
    await aud.context.close();
    await other.context.close();
  }
});

test('security watches a live session and terminates it', async () => {
  const { page, context } = await newPage('sec', 'sec-pw');
  try {
    await page.waitForSelector('#live-cards .card[data-id="live1"] img');
    await page.waitForFunction(() => {
      const img = document.querySelector('#live-cards .card[data-id="live1"] img');
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 10000 });
    await shot(page, '07-live-sessions-security');

    await page.click('#live-cards .card[data-id="live1"] button:has-text("Watch")');
    await page.waitForSelector('#live-canvas');
    await page.waitForFunction(() => document.getElementById('live-canvas').width === 1024, null, { timeout: 10000 });
    const sample = () => page.evaluate(() => {
      const c = document.getElementById('live-canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let h = 0;
      for (let i = 0; i < d.length; i += 40) h = (h * 31 + d[i]) | 0;
      return h;
    });
    const a = await sample();
    await page.waitForTimeout(1200);
    const b = await sample();
    assert.notEqual(a, b, 'the picture changes when the server screen changes');
    await page.waitForSelector('#live-events .line');
    await shot(page, '08-live-view');

    const before = Date.now();
    await page.click('#terminate');
    await page.waitForSelector('#confirm-dialog[open]');
    await shot(page, '09-terminate-confirm');
    const clicked = Date.now();
    await page.click('#confirm-ok');
    const line = await waitForLine(/^TERMINATED live1 /, 5000);
    const [, , at, ...reason] = line.split(' ');
    const latency = Number(at) - clicked;
    console.log(`terminate reached the session ${latency} ms after the confirm click`);
    assert.ok(latency <= 1000, `terminate took ${latency} ms`);
    assert.equal(reason.join(' '), 'terminated by sec');
    await page.waitForSelector('#ended-overlay', { timeout: 5000 });
    assert.match(await page.textContent('#end-reason'), /terminated by sec/);
    await shot(page, '10-live-terminated');
    assert.ok(clicked >= before);
  } finally { await context.close(); }
});

test('admin sees the audit log of views, searches, live views and terminations', async () => {
  const { page, context } = await newPage('admin', 'admin-pw');
  try {
    await page.goto(base + '/#/audit');
    await page.waitForSelector('#audit tbody tr');
    const text = await page.textContent('#audit');
    for (const action of ['search', 'view', 'live', 'terminate', 'login']) assert.match(text, new RegExp(action));
    await shot(page, '11-audit');
  } finally { await context.close(); }
});

test('security issues a one-time access code', async () => {
  const { page, context } = await newPage('sec', 'sec-pw');
  try {
    await page.goto(base + '/#/grants');
    await page.fill('#g-user', 'vendor1');
    await page.fill('#g-target', 'dc01');
    await page.click('button:has-text("Issue code")');
    await page.waitForSelector('.code-box');
    assert.equal(await page.textContent('.code-box'), 'K7QM2XPA');
    await shot(page, '12-access-code');
  } finally { await context.close(); }
});

test('the pages loaded nothing from the internet', () => {
  assert.deepEqual(external, []);
});
