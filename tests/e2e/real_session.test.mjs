// Browser tests against the real product: Debian's Chromium driven by
// playwright-core against the real `vigil serve` (real Redis, x11vnc on Xvfb,
// real VNC sessions through the gateway), set up by real_session_server:
// one ended session in which "net user backup /add" was typed, one live one.
// Env: VIGIL_REAL_SESSION_SERVER (set by ctest), VIGIL_WEB_ROOT (passed on to
// vigil serve).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { external, loadChromium, openPage, removeProfiles } from './chromium.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(here, 'screenshots');
const SERVER = process.env.VIGIL_REAL_SESSION_SERVER;

let chromium;
let server;          // the real_session_server child
let base;            // http://127.0.0.1:PORT
let fx = {};         // what READY said
const lines = [];    // every stdout line of the server
const waiters = [];

// Resolves with the first line (after index `from`) matching re.
function waitForLine(re, timeoutMs, from = 0) {
  return new Promise((resolve, reject) => {
    const found = lines.slice(from).find((l) => re.test(l));
    if (found) return resolve(found);
    const w = { re, resolve, timer: null };
    w.timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(w), 1);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} from real_session_server`));
    }, timeoutMs);
    waiters.push(w);
  });
}

function command(cmd) {
  const from = lines.length;
  server.stdin.write(cmd + '\n');
  return from;
}

async function newPage(user, password) {
  const { page, context } = await openPage(chromium);
  await page.goto(base + '/');
  await page.waitForSelector('#login-form');
  if (user) {
    await page.fill('#login-user', user);
    await page.fill('#login-password', password);
    await page.click('#login-submit');
    await page.waitForSelector('#who-name:not(:empty)');
    assert.equal(await page.textContent('#who-name'), user);
  }
  return { page, context };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, 'real-' + name + '.png') });
}

// Mean colour of a 16×16 block of the live canvas at (x, y).
function canvasColour(page, x, y) {
  return page.evaluate(([x, y]) => {
    const c = document.getElementById('live-canvas');
    const d = c.getContext('2d').getImageData(x, y, 16, 16).data;
    const m = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) { m[0] += d[i]; m[1] += d[i + 1]; m[2] += d[i + 2]; }
    return m.map((v) => Math.round(v / (d.length / 4)));
  }, [x, y]);
}

function canvasHash(page) {
  return page.evaluate(() => {
    const c = document.getElementById('live-canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) | 0;
    return h;
  });
}

before(async () => {
  chromium = await loadChromium();
  assert.ok(SERVER && fs.existsSync(SERVER), 'VIGIL_REAL_SESSION_SERVER must name the built real_session_server');
  fs.mkdirSync(SHOTS, { recursive: true });
  const t0 = Date.now();
  server = spawn(SERVER, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  server.on('exit', (code, sig) => { if (code) console.error(`real_session_server exited with ${code ?? sig}`); });
  let buf = '';
  server.stdout.on('data', (d) => {
    buf += d.toString();
    const got = buf.split('\n');
    buf = got.pop();
    for (const l of got) {
      lines.push(l);
      for (const w of [...waiters]) {
        if (w.re.test(l)) { clearTimeout(w.timer); waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
      }
    }
  });
  const ready = await waitForLine(/^(READY|ERROR) /, 120000);
  assert.match(ready, /^READY /, 'real_session_server failed: ' + ready);
  const m = ready.match(/^READY port=(\d+) auditor=(\S+) auditor_password=(\S+) security=(\S+) security_password=(\S+) ended=(\S+) live=(\S+) hit_t_ms=(\d+) hit=(.*)$/);
  assert.ok(m, 'unexpected READY line: ' + ready);
  fx = { port: m[1], auditor: m[2], auditorPw: m[3], security: m[4], securityPw: m[5],
    ended: m[6], live: m[7], hitMs: Number(m[8]), hit: m[9] };
  base = 'http://127.0.0.1:' + fx.port;
  console.log(`real product ready in ${Date.now() - t0} ms: hit "${fx.hit}" at ${fx.hitMs} ms of ${fx.ended}, live ${fx.live}`);
});

after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.stdin.end();
    const t = setTimeout(() => server.kill('SIGTERM'), 15000);
    await exited;
    clearTimeout(t);
  }
  removeProfiles();
});

test('auditor finds the typed line and replays the recording at that moment', async () => {
  const { page, context } = await newPage();
  try {
    await shot(page, '01-sign-in');
    await page.fill('#login-user', fx.auditor);
    await page.fill('#login-password', fx.auditorPw);
    await page.click('#login-submit');
    await page.waitForSelector('#who-name:not(:empty)');
    assert.equal(await page.textContent('#who-name'), fx.auditor);
    // The live list shows session B (no live picture for an auditor).
    await page.waitForSelector(`#live-cards .card[data-id="${fx.live}"]`);
    assert.match(await page.textContent(`#live-cards .card[data-id="${fx.live}"]`), /vendor1.*desk-vnc/s);
    await shot(page, '02-live-sessions-auditor');

    await page.fill('#quick-search-input', 'net user backup');
    await page.press('#quick-search-input', 'Enter');
    await page.waitForSelector('.hit-group .hit');
    const groups = await page.$$eval('.hit-group', (gs) => gs.map((g) => g.dataset.session));
    assert.deepEqual(groups, [fx.ended], 'one session has the line: the ended one');
    const hitText = await page.textContent('.hit-group .hit');
    assert.match(hitText, /net user backup \/add/);
    assert.match(await page.textContent('.hit-group header'), /vendor1 → desk-vnc/);
    await shot(page, '03-search-results');

    const href = await page.getAttribute('.hit-group .hit', 'href');
    const tMs = Number(new URLSearchParams(href.split('?')[1]).get('t'));
    assert.equal(tMs, fx.hitMs, 'the link goes to the hit');
    const t0 = Date.now();
    await page.click('.hit-group .hit');
    await page.waitForFunction((t) => {
      const v = document.getElementById('video');
      return v && !v.paused && v.readyState >= 3 && Math.abs(v.currentTime * 1000 - t) <= 1000;
    }, tMs, { timeout: 10000, polling: 10 });
    const elapsed = Date.now() - t0;
    const ct1 = await page.evaluate(() => document.getElementById('video').currentTime);
    await page.waitForTimeout(500);
    const st = await page.evaluate(() => {
      const v = document.getElementById('video');
      return { ct: v.currentTime, w: v.videoWidth, h: v.videoHeight, dur: v.duration };
    });
    console.log(`video playing at the hit ${elapsed} ms after the click; currentTime ${ct1.toFixed(3)} s vs hit ` +
      `${tMs} ms (delta ${Math.round(ct1 * 1000 - tMs)} ms); video ${st.w}x${st.h}, ${st.dur.toFixed(1)} s`);
    assert.ok(Math.abs(ct1 * 1000 - tMs) <= 1000, `currentTime ${ct1} s vs hit ${tMs} ms`);
    assert.ok(st.ct > ct1, 'the video advances');
    assert.ok(elapsed <= 1000, `playing ${elapsed} ms after the click (want ≤ 1000 ms)`);
    assert.deepEqual([st.w, st.h], [1280, 800], 'the recording has the server screen size');

    const marked = await page.$$eval('#transcript .line.hit', (ls) => ls.map((l) => l.textContent));
    assert.equal(marked.length, 1, 'one transcript line marked as the hit');
    assert.match(marked[0], /net user backup \/add/);
    const transcript = await page.textContent('#transcript');
    for (const line of ['whoami', 'date', 'ls /', 'echo done']) assert.ok(transcript.includes(line), 'transcript has ' + line);
    assert.ok(await page.$('#timeline .marker.key.hit'), 'timeline marks the hit');
    // Session A ended when its viewer left; the head says why.
    assert.match(await page.textContent('#end-reason'), /Ended: \S/);
    await shot(page, '04-player-at-hit');
  } finally { await context.close(); }
});

test('security watches the live session, sees the screen change, terminates it', async () => {
  const { page, context } = await newPage(fx.security, fx.securityPw);
  try {
    const card = `#live-cards .card[data-id="${fx.live}"]`;
    await page.waitForSelector(card);
    await page.waitForFunction((sel) => {
      const img = document.querySelector(sel + ' img');
      return img && img.complete && img.naturalWidth > 0;
    }, card, { timeout: 10000 });
    assert.match(await page.textContent(card), /vendor1.*desk-vnc.*VNC/s);
    await shot(page, '05-live-sessions-security');

    await page.click(`${card} button:has-text("Watch")`);
    await page.waitForSelector('#live-canvas');
    await page.waitForFunction(() => /fps/.test(document.getElementById('live-status').textContent) &&
      !/waiting/.test(document.getElementById('live-status').textContent), null, { timeout: 10000 });
    assert.deepEqual(await page.evaluate(() => [document.getElementById('live-canvas').width, document.getElementById('live-canvas').height]), [1280, 800]);

    // A line typed in the live session shows up among the live events.
    command('type echo watched-live');
    await page.waitForSelector('#live-events .line:has-text("echo watched-live")', { timeout: 5000 });

    // The server's desktop changes colour; the browser's picture follows.
    const latencies = [];
    for (let i = 0; i < 3; i++) {
      const hashBefore = await canvasHash(page);
      const from = command('change');
      const changed = await waitForLine(/^(changed|change-failed) /, 5000, from);
      assert.match(changed, /^changed /, 'the server could not change its desktop colour');
      const [, tStart, , hex] = changed.split(' ');
      const want = [0, 2, 4].map((k) => parseInt(hex.slice(k, k + 2), 16));
      // The desktop background around (1200, 760) is outside the xterm.
      await page.waitForFunction(([want]) => {
        const c = document.getElementById('live-canvas');
        const d = c.getContext('2d').getImageData(1200, 760, 16, 16).data;
        for (let i = 0; i < d.length; i += 4) {
          if (Math.abs(d[i] - want[0]) > 24 || Math.abs(d[i + 1] - want[1]) > 24 || Math.abs(d[i + 2] - want[2]) > 24) return false;
        }
        return true;
      }, [want], { timeout: 5000, polling: 10 });
      const latency = Date.now() - Number(tStart);
      latencies.push(latency);
      assert.notEqual(await canvasHash(page), hashBefore, 'the picture changed');
      const got = await canvasColour(page, 1200, 760);
      console.log(`live picture turned #${hex} (browser shows rgb ${got.join(',')}) ${latency} ms after the server's screen changed`);
    }
    latencies.sort((a, b) => a - b);
    assert.ok(latencies[1] <= 1000, `live picture change took ${latencies.join(', ')} ms (median want ≤ 1000 ms)`);
    assert.ok(latencies[2] <= 2000, `live picture change took ${latencies.join(', ')} ms (max want ≤ 2000 ms)`);
    await shot(page, '06-live-view');

    // Terminate, with the confirmation.
    await page.click('#terminate');
    await page.waitForSelector('#confirm-dialog[open]');
    assert.match(await page.textContent('#confirm-text'), /vendor1/);
    await shot(page, '07-terminate-confirm');
    const from = lines.length;
    const clicked = Date.now();
    await page.click('#confirm-ok');
    const closed = await waitForLine(/^client-closed \d+/, 5000, from);
    const latency = Number(closed.split(' ')[1]) - clicked;
    console.log(`the VNC client was disconnected ${latency} ms after the confirm click`);
    assert.ok(latency <= 1000, `client disconnected ${latency} ms after the click (want ≤ 1000 ms)`);

    const reason = 'terminated by ' + fx.security;
    await page.waitForSelector('#ended-overlay', { timeout: 5000 });
    assert.equal(await page.textContent('#ended-overlay .reason'), reason);
    assert.equal(await page.textContent('#end-reason'), 'Ended: ' + reason);
    await shot(page, '08-live-terminated');

    // The API and the recordings list say so too.
    const s = await page.evaluate(async (id) => (await fetch('/api/sessions/' + id)).json(), fx.live);
    assert.equal(s.state, 'ended');
    assert.equal(s.end_reason, reason);
    await page.goto(base + '/#/recordings');
    const row = `#recordings tbody tr[data-id="${fx.live}"]`;
    await page.waitForSelector(row);
    const cells = await page.$$eval(row + ' td', (tds) => tds.map((td) => td.textContent));
    assert.equal(cells[6], 'ended');
    assert.equal(cells[7], reason);
    const rowA = await page.$$eval(`#recordings tbody tr[data-id="${fx.ended}"] td`, (tds) => tds.map((td) => td.textContent));
    assert.equal(rowA[6], 'ended');
    await shot(page, '09-recordings');
  } finally { await context.close(); }
});

// Evidence (issue 17): the player checks the session against its signed hash
// chain. Session A as recorded is verified; with one byte of its sealed
// recording flipped on disk the player warns, naming what differs.
async function evidenceShot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, 'evidence-' + name + '.png') });
}

test('the player says a recorded session is verified and warns when its recording was altered', async () => {
  const { page, context } = await newPage(fx.auditor, fx.auditorPw);
  try {
    await page.goto(base + '/#/play/' + encodeURIComponent(fx.ended));
    await page.waitForSelector('#integrity.ok, #integrity.bad', { timeout: 10000 });
    const ok = await page.textContent('#integrity');
    console.log('integrity badge (as recorded): ' + ok);
    assert.equal(await page.getAttribute('#integrity', 'class'), 'integrity ok', ok);
    assert.match(ok, /Verified/);
    assert.match(ok, /recording fragments .* and \d+ events as signed at the session's end/);
    await page.waitForFunction(() => document.getElementById('video')?.readyState >= 2, null, { timeout: 10000 });
    await evidenceShot(page, '13-player-verified');

    const from = command('tamper');
    const tampered = await waitForLine(/^(tampered|tamper-failed) /, 5000, from);
    assert.match(tampered, /^tampered \d+/, 'could not alter the recording: ' + tampered);
    try {
      await page.reload();
      await page.waitForSelector('#integrity.ok, #integrity.bad', { timeout: 10000 });
      const bad = await page.textContent('#integrity');
      console.log('integrity badge (one byte flipped at ' + tampered.split(' ')[1] + '): ' + bad);
      assert.equal(await page.getAttribute('#integrity', 'class'), 'integrity bad', bad);
      assert.match(bad, /Integrity check failed/);
      assert.match(bad, /fragment \d+ of the recording changed/);
      // A warning one sees: white on red, not a muted line.
      const colours = await page.$eval('#integrity', (e) => {
        const cs = getComputedStyle(e);
        return [cs.color, cs.backgroundColor];
      });
      assert.deepEqual(colours, ['rgb(255, 255, 255)', 'rgb(110, 26, 22)']);
      await evidenceShot(page, '14-player-tampered');
    } finally {
      const back = command('restore');
      assert.match(await waitForLine(/^(restored|tamper-failed)/, 5000, back), /^restored/);
    }
  } finally { await context.close(); }
});

test('the pages loaded nothing from the internet', () => {
  assert.deepEqual(external, []);
});
