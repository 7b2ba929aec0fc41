// Browser seek latency on a sealed recording against the same session
// recorded plain, in one run: api_fixture_server serves both (rec1 plain,
// rec2 sealed, made by Vigil's recorder in bench/recorder/seal_bench.cc),
// headless Chromium seeks each to the same random times, alternating files
// in blocks, until the frame there is presented. Run through seal_seek.sh.
// Prints a JSON line of every sample and the percentiles.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(root, 'tests', 'e2e', 'package.json'));
const { chromium } = require('playwright-core');
const env = process.env;
const ROUNDS = Number(env.VIGIL_BENCH_ROUNDS || 6), SEEKS = Number(env.VIGIL_BENCH_SEEKS || 20);
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

const proc = spawn(env.VIGIL_FIXTURE_SERVER, ['--web-root', path.join(root, 'web-player'), '--workdir', env.VIGIL_BENCH_WORK,
  '--video', env.VIGIL_BENCH_PLAIN, '--video-sealed', env.VIGIL_BENCH_SEALED, '--state-dir', env.VIGIL_BENCH_STATE,
  '--duration-s', env.VIGIL_BENCH_DURATION_S], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = [];
let buf = '';
proc.stdout.on('data', (d) => { buf += d; const l = buf.split('\n'); buf = l.pop(); lines.push(...l); });
const ready = await new Promise((resolve, reject) => {
  const t = setInterval(() => { const l = lines.find((x) => x.startsWith('READY')); if (l) { clearInterval(t); resolve(l); } }, 50);
  setTimeout(() => reject(new Error('fixture server did not start')), 60000);
});
const base = 'http://127.0.0.1:' + ready.match(/port=(\d+)/)[1];
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1440, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});
const samples = { plain: [], sealed: [] };
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(base + '/');
  await page.fill('#login-user', 'sec');
  await page.fill('#login-password', 'sec-pw');
  await page.click('#login-submit');
  await page.waitForSelector('#who-name:not(:empty)');
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which file goes first; each round seeks both to the same times.
    const order = r % 2 ? [['sealed', 'rec2'], ['plain', 'rec1']] : [['plain', 'rec1'], ['sealed', 'rec2']];
    for (const [mode, id] of order) {
      await page.goto(base + '/#/recordings');
      await page.goto(base + '/#/play/' + id);
      await page.waitForFunction(() => { const v = document.getElementById('video'); return v && v.readyState >= 2 && v.duration > 0; }, null, { timeout: 20000 });
      const got = await page.evaluate(async ([seed0, n]) => {
        const v = document.getElementById('video');
        v.pause();
        const out = [];
        let seed = seed0;
        const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
        for (let i = 0; i < n; i++) {
          const target = rnd() * (v.duration - 2);
          const t0 = performance.now();
          await new Promise((resolve) => { v.requestVideoFrameCallback(() => resolve()); v.currentTime = target; });
          out.push(performance.now() - t0);
        }
        return out;
      }, [1000 + r, SEEKS]);
      samples[mode].push(...got);
    }
  }
} finally {
  await ctx.close();
  proc.stdin.end();
  proc.kill('SIGTERM');
  fs.rmSync(profile, { recursive: true, force: true });
}
const summary = {};
for (const m of ['plain', 'sealed']) summary[m] = { p50: pct(samples[m], 50), p95: pct(samples[m], 95), p99: pct(samples[m], 99), n: samples[m].length };
summary.p95_ratio = summary.sealed.p95 / summary.plain.p95;
summary.p50_ratio = summary.sealed.p50 / summary.plain.p50;
console.log(`browser seek, plain:  p50 ${summary.plain.p50.toFixed(1)} ms, p95 ${summary.plain.p95.toFixed(1)} ms (n=${summary.plain.n})`);
console.log(`browser seek, sealed: p50 ${summary.sealed.p50.toFixed(1)} ms, p95 ${summary.sealed.p95.toFixed(1)} ms (n=${summary.sealed.n})`);
console.log(`sealed / plain: p50 ${summary.p50_ratio.toFixed(3)}, p95 ${summary.p95_ratio.toFixed(3)}`);
if (env.VIGIL_BENCH_OUT) fs.writeFileSync(env.VIGIL_BENCH_OUT, JSON.stringify({ samples, summary }, null, 1) + '\n');
