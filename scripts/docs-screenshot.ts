import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sampleTenant, scanSimulator, withSimulator } from '../src/simulator/sample.js';
import { DirectoryStore } from '../src/store/stores.js';
import { CHROMIUM, chromiumMissing, launchChromium } from './lib/chromium.js';
import { ROOT } from './lib/paths.js';

/**
 * `npm run docs:screenshot`: scans the sample tenant on the simulator, opens its HTML report in
 * headless Chromium with the worst account (the first listed) expanded, its fixes shown, and writes
 * the README's images, docs/report.png and docs/readiness.png.
 * A documentation step, not a test: it asserts nothing about the report (the browser test does).
 */

if (chromiumMissing()) {
  process.stderr.write(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)\n`);
  process.exit(2);
}
const dir = await mkdtemp(join(tmpdir(), 'pa-screenshot-'));
const tenant = await sampleTenant();
await withSimulator({ tenant }, (sim) => scanSimulator(sim, { stores: [new DirectoryStore(dir)], formats: ['html'] }));
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(pathToFileURL(join(dir, 'report.html')).href);
  await page.locator('details.account > summary').first().click();
  const shot = join(ROOT, 'docs', 'report.png');
  await page.screenshot({ path: shot, fullPage: true });
  process.stdout.write(`written ${shot}\n`);
  // The Enforcement readiness section (NSP-07), as the browser test views it.
  const readiness = join(ROOT, 'docs', 'readiness.png');
  await page.locator('#readiness .readiness', { hasText: 'oai-rollout-prod' }).screenshot({ path: readiness });
  process.stdout.write(`written ${readiness}\n`);
} finally {
  await browser.close();
}
