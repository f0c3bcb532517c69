import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { peerGate, type PeerGate } from './real-peers.js';

/**
 * Debian's Chromium, driven by playwright-core (no browser download): the real browser the
 * console's tests run in. A real peer like Dovecot: skipped with the reason outside CI when
 * missing, a failure under CI (.ci/run installs the `chromium` package).
 */
export const CHROMIUM = process.env.ANNUNCIATOR_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumGate(): PeerGate {
  return peerGate(existsSync(CHROMIUM) ? false : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium, or set ANNUNCIATOR_CHROMIUM)`);
}

export async function launchChromium(): Promise<Browser> {
  // --no-sandbox: tests run as root in containers, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

/** Where a failing test's screenshots go (kept after the run; the path is printed). */
export function screenshotDir(name: string): string {
  const dir = join(process.env.ANNUNCIATOR_SCREENSHOTS ?? join(tmpdir(), 'annunciator-screenshots'), `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

let runDir: string | undefined;

async function saveScreenshots(name: string, pages: Page[], why: string): Promise<void> {
  try {
    runDir ??= screenshotDir('console');
    let n = 0;
    for (const page of pages) {
      if (page.isClosed()) continue;
      n += 1;
      await page.screenshot({ path: join(runDir, `${name.replace(/[^\w-]+/g, '_')}-${n}.png`), fullPage: true, timeout: 5000 });
    }
    process.stderr.write(`console test "${name}" ${why}; screenshots in ${runDir}\n`);
  } catch (shotError) {
    process.stderr.write(`console test "${name}" ${why}; no screenshot could be taken: ${String(shotError)}\n`);
  }
}

/**
 * Runs a test's body; when it fails, saves a full-page screenshot of each page into a
 * folder, prints the folder's path, and fails with the original error.
 * ANNUNCIATOR_SCREENSHOTS_ALWAYS=1 saves them after a pass too (to look at the pages);
 * ANNUNCIATOR_SCREENSHOTS names the folder they go under.
 */
export async function withScreenshots(name: string, pages: () => Page[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    await saveScreenshots(name, pages(), 'failed');
    throw error;
  }
  if (process.env.ANNUNCIATOR_SCREENSHOTS_ALWAYS === '1') await saveScreenshots(name, pages(), 'passed');
}
