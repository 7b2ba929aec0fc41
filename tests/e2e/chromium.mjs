// What the browser tests share: Debian's Chromium through playwright-core, a
// throw-away profile per page, and a list of every request that left the
// machine (the web player must load nothing from the internet).
// Env: VIGIL_CHROMIUM (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CHROMIUM = process.env.VIGIL_CHROMIUM || '/usr/bin/chromium';
const profiles = [];
export const external = [];  // URLs requested off this machine (must stay empty)

// Fails, never skips, when Chromium or playwright-core is missing.
export async function loadChromium() {
  assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  try {
    return (await import('playwright-core')).chromium;
  } catch (e) {
    assert.fail('playwright-core missing: run npm ci in tests/e2e (' + e.message + ')');
  }
}

// A page in a fresh profile; page errors go to stderr.
export async function openPage(chromium) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-chromium-'));
  profiles.push(dir);
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
  const page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('console', (m) => { if (m.type() === 'error') console.error('console:', m.text()); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.protocol !== 'blob:' && u.hostname !== '127.0.0.1') external.push(r.url());
  });
  return { page, context };
}

export function removeProfiles() {
  for (const d of profiles.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}
