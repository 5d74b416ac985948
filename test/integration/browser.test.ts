import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { DirectoryStore } from '../../src/store/stores.js';
import { CHROMIUM, chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { HOSTILE, hostileTenant } from '../helpers/hostile.js';
import { ROOT } from '../helpers/paths.js';
import { sampleTenant, scanSimulator, SUB_DEV, SUB_PROD, withSimulator } from '../helpers/sample.js';

/**
 * The HTML report in a real browser: Debian's Chromium driven by playwright-core. `.ci/run`
 * installs Chromium; elsewhere the test is skipped when it is missing (never in CI). The README's
 * screenshot is not a test: `npm run docs:screenshot` (scripts/docs-screenshot.ts) takes it.
 */

const ARTIFACTS = join(ROOT, 'test-artifacts');

/** What the tests read of the page's window (the project compiles without the DOM library). */
interface Dom {
  document: { body: { textContent: string | null }; documentElement: { scrollWidth: number; clientWidth: number } };
  getComputedStyle(el: unknown): { unicodeBidi: string };
}
const missing = chromiumMissing();
if (missing && process.env.CI) throw new Error(`Chromium not found at ${CHROMIUM}; .ci/run installs Debian's chromium`);

async function reportOf(tenant: ReturnType<typeof hostileTenant> | ReturnType<typeof sampleTenant>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-browser-'));
  const t = await tenant;
  await withSimulator({ tenant: t }, (sim) => scanSimulator(sim, { stores: [new DirectoryStore(dir)], formats: ['html'] }));
  return join(dir, 'report.html');
}

/**
 * Three scans of the sample tenant into one directory, the tenant changing between them: the first
 * as it is (partial: one subscription is forbidden), then with every subscription readable
 * (complete), then partial again without the dev subscription's OpenAI accounts. @returns the last report
 */
async function threeScansReport(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-browser-trend-'));
  const sample = await sampleTenant();
  const tenants = [
    sample,
    { ...sample, forbiddenSubscriptions: [] },
    { ...sample, resources: sample.resources.filter((r) => !(r.subscriptionId === SUB_DEV && String(r.name).startsWith('oai-'))) },
  ];
  for (const [i, tenant] of tenants.entries()) {
    // Scan IDs have one-second resolution: each scan gets its own second on a fixed clock.
    const at = new Date(Date.UTC(2026, 10, 21, 3, 0, i));
    await withSimulator({ tenant }, (sim) => scanSimulator(sim, { stores: [new DirectoryStore(dir)], formats: ['html'], now: () => at }));
  }
  return join(dir, 'report.html');
}

describe.skipIf(missing)('HTML report in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    await mkdir(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('renders, filters, raises no console error, and runs no script from resource text', async () => {
    const file = await reportOf(hostileTenant());
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.goto(pathToFileURL(file).href);

    assert.match(await page.title(), /^Perimeter audit \d{4}-\d{2}-\d{2}T/);
    assert.equal(await page.locator('h1').textContent(), 'Azure AI network perimeter audit');
    assert.equal(await page.locator('details.account').count(), 23);
    assert.equal(await page.locator('#shown').textContent(), '23 of 23 accounts shown');
    assert.equal(await page.locator('svg[aria-label="Outcomes by rule"] rect').count() > 20, true, 'the chart is drawn');

    // The hostile name is displayed as text, not markup.
    const hostileSummary = page.locator('details.account summary strong', { hasText: HOSTILE.markupName });
    assert.equal(await hostileSummary.count(), 1);
    assert.equal(await page.locator('img').count(), 0);

    // Filter by text, then by state.
    await page.fill('#q', 'oai-batch');
    assert.equal(await page.locator('#shown').textContent(), '1 of 23 accounts shown');
    assert.equal(await page.locator('details.account:visible').count(), 1);
    await page.fill('#q', '');
    await page.selectOption('#state', 'ok');
    const compliant = Number((await page.locator('#shown').textContent())?.split(' ')[0]);
    assert.equal(compliant, await page.locator('details.account[data-state="ok"]').count());
    await page.selectOption('#state', '');

    // Drill-down opens, and hovering over hostile tags triggers nothing.
    await hostileSummary.click();
    await page.locator('details.account[open] table').first().hover();
    const pwned = await page.evaluate(() => (globalThis as unknown as { __pwned?: unknown }).__pwned);
    assert.equal(pwned, undefined, 'no script from resource text ran');
    assert.deepEqual(problems, []);
    assert.ok(requests.every((u) => u.startsWith('file://')), `only the file itself was loaded: ${requests.join(', ')}`);
    await page.screenshot({ path: join(ARTIFACTS, 'report-hostile.png'), fullPage: false });
    await page.close();
  });

  it('lists accounts worst first, shows each fail\'s fix with the account\'s names, isolates bidi text, and never scrolls sideways', async () => {
    const file = await reportOf(hostileTenant());
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(pathToFileURL(file).href);
    const accounts = page.locator('details.account');

    // Worst first: (high, medium, low fails, unknowns) never increases down the list; compliant accounts last.
    const risk = () => accounts.evaluateAll((els) => els.map((el) => {
      const n = (sel: string) => Number(/^\d+/.exec(el.querySelector(`summary ${sel}`)?.textContent ?? '')?.[0] ?? 0);
      return [n('.sev-high'), n('.sev-medium'), n('.sev-low'), n('.b-unknown')];
    }));
    const tuples = await risk();
    assert.equal(tuples.length, 23);
    const compare = (a: number[] = [], b: number[] = []) => a.map((x, k) => x - (b[k] ?? 0)).find((d) => d !== 0) ?? 0;
    for (let i = 1; i < tuples.length; i += 1) {
      assert.ok(compare(tuples[i - 1], tuples[i]) >= 0, `account ${i} ranks after account ${i - 1}: ${JSON.stringify(tuples.slice(i - 1, i + 1))}`);
    }
    assert.ok((tuples[0]?.[0] ?? 0) > 0, 'the first account has a high-severity fail');
    assert.deepEqual(tuples.at(-1), [0, 0, 0, 0], 'a compliant account is last');

    // Ordering by name, then back to risk; the outcome and severity filters.
    await page.selectOption('#order', 'name');
    const names = await accounts.evaluateAll((els) => els.map((el) => el.getAttribute('data-name') ?? ''));
    assert.deepEqual(names, [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    await page.selectOption('#order', 'risk');
    assert.deepEqual(await risk(), tuples);
    await page.selectOption('#outcome', 'fail');
    await page.selectOption('#severity', 'high');
    const withHigh = tuples.filter((t) => (t[0] ?? 0) > 0).length;
    assert.equal(await page.locator('#shown').textContent(), `${withHigh} of 23 accounts shown`);
    assert.equal(await page.locator('details.account:visible').count(), withHigh);
    await page.selectOption('#outcome', '');
    await page.selectOption('#severity', '');

    // NSP-02's fix for the Learning-mode account: its perimeter's resource group, name and association, from the tenant's own data.
    const tenant = await sampleTenant();
    const rolloutId = `/subscriptions/${SUB_PROD}/resourceGroups/rg-ai-prod/providers/Microsoft.CognitiveServices/accounts/oai-rollout-prod`;
    const linked = (r: { properties?: unknown }) => (r.properties as { privateLinkResource?: { id?: string } } | undefined)?.privateLinkResource?.id ?? '';
    const assoc = tenant.networkresources.find((r) => linked(r).toLowerCase() === rolloutId.toLowerCase());
    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityPerimeters\/([^/]+)\/resourceAssociations\/([^/]+)$/i.exec(String(assoc?.id));
    assert.ok(m, `the sample tenant associates oai-rollout-prod: ${String(assoc?.id)}`);
    const rollout = accounts.filter({ has: page.locator('summary strong', { hasText: /^oai-rollout-prod$/ }) });
    await rollout.locator(':scope > summary').click();
    const row = rollout.locator('tr', { has: page.locator('td', { hasText: /^NSP-02$/ }) });
    assert.equal(await row.locator('td.o-fail').count(), 1, 'NSP-02 fails on oai-rollout-prod');
    const fix = row.locator('.fix');
    assert.ok(await fix.isVisible(), 'the fix is shown');
    const command = (await fix.locator('pre').first().textContent()) ?? '';
    assert.equal(command, `az network perimeter association update --subscription ${m[1]} --resource-group ${m[2]} --perimeter-name ${m[3]} --association-name ${m[4]} --access-mode Enforced`);
    await fix.locator('button.copy').first().click();
    await fix.locator('button.copy', { hasText: 'copied' }).waitFor();
    type WithClipboard = { navigator: { clipboard: { readText(): Promise<string> } } };
    assert.equal(await page.evaluate(() => (globalThis as unknown as WithClipboard).navigator.clipboard.readText()), command);
    // A passing finding shows no fix.
    assert.equal(await rollout.locator('tr', { has: page.locator('td.o-pass') }).locator('.fix').count(), 0);
    await fix.screenshot({ path: join(ARTIFACTS, 'remediation.png') });

    // The right-to-left override: isolated, shown as a marker in its place, the text around it in order.
    const bidi = accounts.filter({ has: page.locator('summary strong', { hasText: 'oai-payroll-' }) });
    assert.equal(await bidi.count(), 1);
    const name = bidi.locator('summary strong bdi');
    assert.equal(await name.textContent(), 'oai-payroll-\\u{202e}exe.txt', 'the override is a visible marker, the characters in their order');
    assert.equal(await name.evaluate((el) => (globalThis as unknown as Dom).getComputedStyle(el).unicodeBidi), 'isolate');
    assert.equal(await name.locator('.ctl').getAttribute('title'), 'U+202E');
    const [nameBox, kindBox] = [await name.boundingBox(), await bidi.locator(':scope > summary > bdi').first().boundingBox()];
    assert.ok(nameBox && kindBox && nameBox.x + nameBox.width <= kindBox.x, 'the name is followed, to its right, by the kind');
    const tag = bidi.locator('p small bdi', { hasText: 'unclosed right-to-left embedding' });
    assert.equal(await tag.textContent(), 'note=\\u{202b}unclosed right-to-left embedding');
    const text = await page.evaluate(() => (globalThis as unknown as Dom).document.body.textContent ?? '');
    assert.ok(!/[\u202a-\u202e\u2066-\u2069]/.test(text), 'no bidirectional control is left to act on the page');

    // A 3,000-character name wraps: the page is never wider than the window, drill-down open or not.
    const overflow = () => page.evaluate(() => {
      const root = (globalThis as unknown as Dom).document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    assert.equal(await overflow(), 0);
    const long = accounts.filter({ has: page.locator('summary strong', { hasText: HOSTILE.longName }) });
    assert.equal(await long.count(), 1);
    await long.locator(':scope > summary').click();
    await long.locator('tr .fix').first().waitFor();
    assert.equal(await overflow(), 0);
    const longBox = await long.boundingBox();
    assert.ok(longBox && longBox.width <= 1280, `the account block fits the window: ${JSON.stringify(longBox)}`);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('draws the trend of three stored scans: a marker, bars and a table row per scan, the partial ones marked', async () => {
    const file = await threeScansReport();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(pathToFileURL(file).href);

    const trend = page.locator('#trend');
    assert.equal(await trend.locator('h2').textContent(), 'Trend');
    // Near the top: the section right after the headline's cards.
    assert.equal(await page.locator('section.cards + section').getAttribute('id'), 'trend');
    const svg = trend.locator('svg');
    assert.equal(await svg.count(), 1);
    assert.ok(await svg.isVisible(), 'the chart is shown');
    const scans = svg.locator('g.trend-scan');
    assert.equal(await scans.count(), 3);
    assert.deepEqual(await scans.evaluateAll((gs) => gs.map((g) => g.getAttribute('data-status'))), ['partial', 'complete', 'partial']);
    assert.equal(await svg.locator('circle.marker').count(), 3, 'a compliance marker per scan');
    // Partial scans are hollow (white inside), the complete one filled.
    assert.deepEqual(await svg.locator('circle.marker').evaluateAll((cs) => cs.map((c) => c.getAttribute('fill'))), ['#fff', '#1565c0', '#fff']);
    assert.ok((await svg.locator('rect.bar').count()) >= 3, 'fail bars are drawn');
    const box = await svg.boundingBox();
    assert.ok(box && box.width > 300 && box.height > 150, `the chart has a size: ${JSON.stringify(box)}`);
    assert.match((await trend.locator('.note').textContent()) ?? '', /^2 of these 3 scans are partial/);

    // The table fallback holds the same three scans, oldest first.
    const rows = trend.locator('#trend-table tbody tr');
    assert.equal(await rows.count(), 3);
    assert.equal(await rows.first().isVisible(), false, 'folded until asked for');
    await trend.locator('#trend-table summary').click();
    assert.equal(await rows.first().isVisible(), true);
    const ids = await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-scan-id') ?? ''));
    assert.deepEqual(ids, [...ids].sort());
    assert.deepEqual(await rows.locator('td:nth-child(5)').allTextContents(), ['19', '20', '15'], 'accounts read per scan');
    assert.deepEqual(problems, []);
    await trend.screenshot({ path: join(ARTIFACTS, 'trend.png') });
    await page.close();
  });

  it('shows enforcement readiness: flows as text, and copy buttons that copy the exact command', async () => {
    const file = await reportOf(sampleTenant());
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.goto(pathToFileURL(file).href);
    const section = page.locator('#readiness');
    assert.equal(await section.locator('h2').textContent(), 'Enforcement readiness');
    const rollout = section.locator('.readiness', { hasText: 'oai-rollout-prod' });
    assert.equal(await rollout.count(), 1);
    // The hostile destination is shown as the text it is.
    assert.equal(await rollout.locator('bdi', { hasText: '<script>alert(1)</script>' }).count() > 0, true);
    const command = (await rollout.locator('pre').first().textContent()) ?? '';
    assert.match(command, /^az network perimeter profile access-rule create /);
    await rollout.locator('button.copy').first().click();
    await page.locator('button.copy', { hasText: 'copied' }).first().waitFor();
    type WithClipboard = { navigator: { clipboard: { readText(): Promise<string> } } };
    assert.equal(await page.evaluate(() => (globalThis as unknown as WithClipboard).navigator.clipboard.readText()), command);
    assert.deepEqual(problems, []);
    // The README's picture of the section (npm run docs:screenshot copies the same view to docs/readiness.png).
    await rollout.screenshot({ path: join(ARTIFACTS, 'readiness.png') });
    await context.close();
  });
});
