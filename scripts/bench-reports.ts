import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { catalogEntry, type Finding, type Outcome } from '../src/domain/rule.js';
import { SummaryBuilder } from '../src/engine/summary.js';
import { parseReportFormats, type ReportFormat } from '../src/reports/index.js';
import { ReportWriter } from '../src/reports/writer.js';
import { RULES } from '../src/rules/index.js';
import { copyFile, writeChunk } from '../src/store/artifact.js';
import type { ScanDocument } from '../src/store/scanDocument.js';
import { DirectoryStore } from '../src/store/stores.js';

/**
 * Report benchmark: writes a generated scan of N accounts (default 100,000; 19 rules each) to a
 * temporary directory, then renders the reports from its findings.ndjson, each run in a process of
 * its own: each format alone, then all four in the one pass a commit makes (reports/writer.ts). It
 * prints each run's wall time (the pass, then the copy into place as a directory store makes it)
 * and peak RSS, and the four single-format runs' total against the one pass.
 *
 *   npm run bench:reports [-- --accounts 100000] [-- --keep]
 */

const self = fileURLToPath(import.meta.url);

/** Renders `formats` from dir/findings.ndjson in one pass (reports/writer.ts) into dir/out, as a store would. */
async function renderOne(formats: readonly ReportFormat[], dir: string): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const scan = JSON.parse(await readFile(join(dir, 'scan.json'), 'utf8')) as ScanDocument;
  const started = process.hrtime.bigint();
  const reports = await ReportWriter.open({ scan, formats, workDir: dir });
  try {
    await reports.read([(out) => copyFile(join(dir, 'findings.ndjson'), out)]);
    const artifacts = await reports.finish(scan);
    const passMs = Number(process.hrtime.bigint() - started) / 1e6;
    await new DirectoryStore(join(dir, 'out')).saveFiles(scan.scanId, artifacts);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    let bytes = 0;
    for (const a of artifacts) bytes += (await stat(join(dir, 'out', a.name))).size;
    process.stdout.write(`${JSON.stringify({ formats: formats.join(','), ms, passMs, peakRssMiB: process.resourceUsage().maxRSS / 1024, bytes })}\n`);
  } finally {
    await reports.remove();
  }
}

const OUTCOMES: readonly Outcome[] = ['pass', 'fail', 'not_applicable', 'unknown'];

/** Writes scan.json and findings.ndjson of a generated tenant (streamed). */
async function generate(dir: string, accounts: number): Promise<{ findings: number; bytes: number }> {
  const rules = RULES.filter((r) => r.enabledByDefault);
  const summary = new SummaryBuilder(rules.map((r) => r.id));
  const out = createWriteStream(join(dir, 'findings.ndjson'));
  let n = 0;
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let i = 0; i < accounts; i++) {
    const sub = `${String(i % 500).padStart(8, '0')}-0000-4000-8000-000000000000`;
    const name = `oai-${i.toString(36)}-${['prod', 'dev', 'test'][i % 3]}`;
    const resourceId = `/subscriptions/${sub}/resourceGroups/rg-ai-${i % 40}/providers/Microsoft.CognitiveServices/accounts/${name}`;
    let chunk = '';
    for (const rule of rules) {
      const r = random();
      const outcome = OUTCOMES[r < 0.55 ? 0 : r < 0.8 ? 1 : r < 0.97 ? 2 : 3] ?? 'pass';
      const finding: Finding = {
        ruleId: rule.id,
        resourceId,
        outcome,
        severity: rule.severity,
        message: `${rule.title}: generated ${outcome} for benchmark account ${name} in subscription ${sub}.`,
        subscriptionId: sub,
        resourceGroup: `rg-ai-${i % 40}`,
        accountName: name,
        kind: i % 4 === 0 ? 'AIServices' : 'OpenAI',
        location: 'eastus',
        tags: { env: ['prod', 'dev', 'test'][i % 3] ?? 'prod', owner: `team-${i % 97}` },
        evidence: { publicNetworkAccess: 'Enabled', defaultAction: 'Allow' },
      };
      summary.add(finding);
      chunk += `${JSON.stringify(finding)}\n`;
      n += 1;
    }
    await writeChunk(out, chunk);
  }
  out.end();
  await finished(out);
  const now = new Date().toISOString();
  const scan: ScanDocument = {
    schemaVersion: 1,
    scanId: '2026-11-21T00-00-00Z-bench0',
    startedAt: now,
    finishedAt: now,
    status: 'complete',
    scope: { subscriptions: [], managementGroups: [], deepInspection: true },
    coverage: { subscriptions: [], accounts, tables: [], deepInspection: { accounts: 0, failed: 0 }, problems: [] },
    rules: rules.map(catalogEntry),
    summary: summary.build(),
    stats: { durationMs: 0, resourceGraphPages: 0, resourceGraphRequests: 0, armRequests: 0, throttledResponses: 0 },
  };
  await writeFile(join(dir, 'scan.json'), JSON.stringify(scan));
  return { findings: n, bytes: (await stat(join(dir, 'findings.ndjson'))).size };
}

function child(formats: readonly ReportFormat[], dir: string): Promise<{ formats: string; ms: number; passMs: number; peakRssMiB: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [self, 'render', formats.join(','), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    p.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`render ${formats.join(',')} exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'render') {
    await renderOne(parseReportFormats(args[1] ?? ''), args[2] ?? '.');
    return;
  }
  const at = args.indexOf('--accounts');
  const accounts = at >= 0 ? Number(args[at + 1]) : 100_000;
  const dir = await mkdtemp(join(tmpdir(), 'pa-bench-reports-'));
  try {
    const started = Date.now();
    const gen = await generate(dir, accounts);
    console.log(`generated ${accounts} accounts, ${gen.findings} findings, findings.ndjson ${(gen.bytes / 2 ** 20).toFixed(0)} MiB in ${Date.now() - started} ms`);
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
    console.log('');
    console.log('formats                 wall (s)   pass (s)   peak RSS (MiB)   output (MiB)   findings/s');
    const row = (r: Awaited<ReturnType<typeof child>>) =>
      console.log(
        `${r.formats.padEnd(22)} ${(r.ms / 1000).toFixed(1).padStart(9)}   ${(r.passMs / 1000).toFixed(1).padStart(8)}   ${r.peakRssMiB.toFixed(0).padStart(14)}   ${(r.bytes / 2 ** 20).toFixed(1).padStart(12)}   ${Math.round(gen.findings / (r.ms / 1000)).toString().padStart(10)}`,
      );
    // Each format alone (a pass of its own, as each renderer once read the findings), then all four in one pass.
    let apart = 0;
    for (const format of ['csv', 'sarif', 'json', 'html'] as const) {
      const r = await child([format], dir);
      row(r);
      apart += r.ms;
    }
    const together = await child(['csv', 'sarif', 'json', 'html'], dir);
    row(together);
    console.log('');
    console.log(`four formats: ${(apart / 1000).toFixed(1)} s as four passes, ${(together.ms / 1000).toFixed(1)} s in one pass (${(apart / together.ms).toFixed(2)}×)`);
  } finally {
    if (!args.includes('--keep')) await rm(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

await main();
