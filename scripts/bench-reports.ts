import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { catalogEntry, type Finding, type Outcome } from '../src/domain/rule.js';
import { SummaryBuilder } from '../src/engine/summary.js';
import { type ReportFormat, reportArtifacts } from '../src/reports/index.js';
import { RULES } from '../src/rules/index.js';
import { fileFindings, writeChunk } from '../src/store/artifact.js';
import type { ScanDocument } from '../src/store/scanDocument.js';

/**
 * Report benchmark: writes a generated scan of N accounts (default 100,000; 19 rules each) to a
 * temporary directory, then renders each report format from its findings.ndjson in a separate
 * process and prints wall time and that process's peak RSS.
 *
 *   npm run bench:reports [-- --accounts 100000] [-- --keep]
 */

const self = fileURLToPath(import.meta.url);

async function renderOne(format: ReportFormat, dir: string): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const scan = JSON.parse(await readFile(join(dir, 'scan.json'), 'utf8')) as ScanDocument;
  const [artifact] = reportArtifacts(scan, fileFindings(join(dir, 'findings.ndjson')), [format]);
  if (!artifact) throw new Error(`no artifact for ${format}`);
  const started = process.hrtime.bigint();
  const out = createWriteStream(join(dir, artifact.name));
  await artifact.write(out);
  out.end();
  await finished(out);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const bytes = (await stat(join(dir, artifact.name))).size;
  process.stdout.write(`${JSON.stringify({ format, ms, peakRssMiB: process.resourceUsage().maxRSS / 1024, bytes })}\n`);
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

function child(format: ReportFormat, dir: string): Promise<{ format: string; ms: number; peakRssMiB: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [self, 'render', format, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    p.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`render ${format} exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'render') {
    await renderOne(args[1] as ReportFormat, args[2] ?? '.');
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
    console.log('format   wall (s)   peak RSS (MiB)   output (MiB)   findings/s');
    for (const format of ['csv', 'sarif', 'json', 'html'] as ReportFormat[]) {
      const r = await child(format, dir);
      console.log(
        `${format.padEnd(8)} ${(r.ms / 1000).toFixed(1).padStart(8)}   ${r.peakRssMiB.toFixed(0).padStart(14)}   ${(r.bytes / 2 ** 20).toFixed(1).padStart(12)}   ${Math.round(gen.findings / (r.ms / 1000)).toString().padStart(10)}`,
      );
    }
  } finally {
    if (!args.includes('--keep')) await rm(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

await main();
