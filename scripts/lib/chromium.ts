import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core (no browser download): the HTML report test and
 * `npm run docs:screenshot` open the report in it. `.ci/run` installs it; CHROMIUM_PATH overrides.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const chromiumMissing = (): boolean => !existsSync(CHROMIUM);

/** Launches headless Chromium with no network side-traffic of its own (updates, sync, QUIC). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
