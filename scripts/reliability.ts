import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT as root } from './lib/paths.js';
import { runNode } from './lib/spawn.js';

/**
 * The reliability table (issue: reliability and security): runs the fault, crash and security
 * suites through vitest, and writes docs/reliability.md — each fault, what the product did,
 * whether anything was lost, and the result and time of the test that proves it, from this run.
 *
 *   npm run reliability            # run and rewrite docs/reliability.md
 *   npm run reliability -- --check # run; fail if a test failed or the committed rows differ
 */

const DOC = join(root, 'docs', 'reliability.md');
const FILES = ['faults', 'unread', 'crash', 'security', 'scan', 'alerts', 'events', 'store'].map((f) => `test/integration/${f}.test.ts`);
const VITEST = join(root, 'node_modules', 'vitest', 'vitest.mjs');

interface Row {
  readonly fault: string;
  readonly test: RegExp;
  readonly did: string;
  readonly lost: string;
}

const ROWS: readonly Row[] = [
  { fault: '429 storm, with Retry-After', test: /429 storm, with and without Retry-After/, did: 'waited as asked, retried; same verdicts as an undisturbed scan', lost: 'nothing' },
  { fault: 'quota headers at zero (15 queries / 5 s)', test: /paces Resource Graph to the quota/, did: 'paced to the reset time; the server never had to throttle', lost: 'nothing' },
  { fault: 'a query throttled on every attempt', test: /gives up on a query after a bounded number of attempts/, did: 'stopped after the attempt limit; that table unread, its verdicts unknown', lost: 'only the unread table\'s verdicts (unknown, never pass)' },
  { fault: '500/503 on one table', test: /a Resource Graph table that fails/, did: 'scan completed, status partial; dependent verdicts unknown', lost: 'only what the table held (unknown, never pass)' },
  { fault: 'answers slower than the client timeout', test: /slow answers beyond the client timeout/, did: 'each attempt cut at the deadline, bounded retries, then unread', lost: 'only that table (unknown)' },
  { fault: 'connection resets, truncated JSON', test: /connection resets and truncated JSON are retried/, did: 'retried the request or the page; same verdicts', lost: 'nothing' },
  { fault: '403 on one subscription', test: /covers every readable account with every enabled rule/, did: 'isolated the subscription by bisection; recorded it unreadable; status partial', lost: 'that subscription\'s accounts (listed in coverage)' },
  { fault: 'rows of wrong types, missing id, a 1 MB tag', test: /a 1 MB tag value and rows of the wrong types/, did: 'the bad parts unread; the rest of each account evaluated', lost: 'only the verdicts needing the bad parts (unknown)' },
  { fault: 'partial-scope results (truncated, no token to continue)', test: /partial results \(resultTruncated/, did: 'refused as incomplete; that table unread, status partial', lost: 'only that table (unknown, never pass)' },
  { fault: 'a paging token that repeats', test: /refuses a repeated paging token/, did: 'stopped the loop; what that query covers recorded as not read', lost: 'what the query covered (reported in coverage)' },
  { fault: 'a perimeter-configuration read refused', test: /a failed perimeter configuration read makes NSP-05\/NSP-06 unknown/, did: 'NSP-05/NSP-06 unknown for that account only', lost: 'two verdicts of one account' },
  { fault: 'the accounts query fails for every subscription (truncated JSON on every attempt)', test: /1a\. accounts answered with truncated JSON/, did: 'stopped (CLI exit 2): "no subscription could be read: 0 of 3 in scope", never "100 % compliant"', lost: 'nothing: no scan committed, latest.json on the previous scan' },
  { fault: 'a 429 storm without Retry-After until the attempts run out', test: /1b\. a 429 storm without Retry-After/, did: 'a progress line per retry ("HTTP 429 (throttled), attempt 2 of 3"), then stopped (exit 2)', lost: 'nothing: no scan committed' },
  { fault: 'a server that never answers', test: /1c\. a server that never answers/, did: 'each attempt cut at the deadline with a progress line; "no answer in 30 s, 6 attempt(s)"; stopped (exit 2)', lost: 'nothing: no scan committed' },
  { fault: 'a 200 answer that is an HTML page (a proxy) or {} without value', test: /perimeter configurations answered with an HTML page/, did: 'a failed read naming content type and size; NSP-05/NSP-06 unknown, never "drift"; status partial (exit 3)', lost: 'only the verdicts on the unread answer (unknown)' },
  { fault: 'a scan with gaps but no fail at --fail-on', test: /2\. the CLI on a partial scan/, did: 'exit 3 (not 0), coverage line and headline over the accounts read', lost: 'nothing' },
  { fault: 'an unknown management group, a subscription ID that is not a GUID', test: /3\. scope typos fail before any request/, did: 'exit 2 naming the input; a malformed ID before any request', lost: 'nothing' },
  { fault: 'a findings file cut short', test: /4\. report refuses a findings file cut/, did: '`report` exits 2 naming both counts; nothing rendered', lost: 'nothing' },
  { fault: 'credentials in an endpoint URL', test: /credentials in an endpoint URL are refused/, did: 'refused before use (exit 2); never printed', lost: 'nothing' },
  { fault: 'subscriptions cannot be listed', test: /a scan that cannot finish leaves the previous latest\.json intact/, did: 'stopped with a clear error (CLI exit 2)', lost: 'nothing: latest.json still on the previous scan' },
  {
    fault: 'SIGKILL at each phase of a scan (collection, evaluation, each upload, before/after latest.json)',
    test: /killed with SIGKILL at each phase/,
    did: 'latest.json always on a complete scan: the previous one, or the killed one when it died after its commit; the next scan committed',
    lost: 'only the killed run',
  },
  { fault: 'a refused commit (leased latest.json)', test: /a commit that fails leaves latest.json on the previous scan/, did: 'the write failed loudly', lost: 'nothing: the previous scan stays current' },
  { fault: 'a webhook receiver down', test: /dead-letters after the last attempt/, did: 'retried with backoff, then dead-lettered; replay delivered exactly once', lost: 'nothing' },
  { fault: 'a webhook to a private address', test: /refuses private, loopback and link-local destinations/, did: 'refused before connecting', lost: 'nothing sent' },
  { fault: 'a transient ARM failure during a change event', test: /a transient ARM failure throws/, did: 'threw so Event Grid retries; stored nothing', lost: 'nothing' },
  { fault: 'the same event twice, events out of order, concurrent events', test: /concurrent events on one account/, did: 'ETag-conditional state; one transition, no lost update', lost: 'nothing' },
  {
    fault: 'an event whose ARM read is held until a later event committed',
    test: /stale read: an evaluation whose ARM read was held/,
    did: 'the stale evaluation kept the newer state (read times compared) and sent no alert',
    lost: 'nothing',
  },
  { fault: 'secrets near logs and stored files', test: /secrets and tokens appear in no log line/, did: 'no secret or token in any log line or stored file', lost: 'nothing' },
];

interface Result {
  readonly ok: boolean;
  readonly ms: number;
}

/** vitest's JSON reporter: one entry per test file, one assertion result per test. */
interface VitestJson {
  readonly testResults: ReadonlyArray<{ readonly assertionResults: readonly VitestTest[] }>;
}

interface VitestTest {
  readonly title: string;
  readonly status: string;
  readonly duration?: number | null;
}

async function runSuites(): Promise<Map<string, Result>> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-reliability-'));
  try {
    const report = join(dir, 'vitest.json');
    // vitest exits 1 when a test fails: the table says which, so the exit code is not needed here.
    const run = await runNode(VITEST, ['run', ...FILES, '--root', root, '--reporter=json', `--outputFile=${report}`]);
    const json = JSON.parse(await readFile(report, 'utf8').catch(() => {
      throw new Error(`vitest wrote no report (exit ${run.code}): ${run.output.slice(-2000)}`);
    })) as VitestJson;
    const results = new Map<string, Result>();
    for (const file of json.testResults) {
      for (const t of file.assertionResults) {
        if (t.status === 'passed' || t.status === 'failed') results.set(t.title, { ok: t.status === 'passed', ms: t.duration ?? 0 });
      }
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function rowsOf(results: Map<string, Result>): string[][] {
  return ROWS.map((r) => {
    const hit = [...results.entries()].find(([name]) => r.test.test(name));
    return [r.fault, r.did, r.lost, hit ? (hit[1].ok ? 'pass' : 'FAIL') : 'not run', hit ? String(Math.round(hit[1].ms)) : '—'];
  });
}

const stable = (rows: string[][]) => rows.map((r) => r.slice(0, 4).join(' | '));

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const results = await runSuites();
  const rows = rowsOf(results);
  const failed = rows.filter((r) => r[3] !== 'pass');
  const table = [
    '| fault | what the product did | lost | result | test time (ms) |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  const doc = `# Reliability

Each fault below is injected by a test against the real parts (the HTTPS ARM simulator through the \`@azure/*\` SDK
clients, Azurite, a local webhook receiver). Generated by \`npm run reliability\`; CI runs \`npm run reliability -- --check\`,
which fails when a test fails or this table no longer matches the script.

Last run: ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}.

${table}
`;
  if (check) {
    const committed = await readFile(DOC, 'utf8').catch(() => '');
    const committedRows = committed
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| fault'))
      .map((l) => l.slice(2, -2).split(' | ').slice(0, 4).join(' | '));
    const same = JSON.stringify(committedRows) === JSON.stringify(stable(rows));
    process.stdout.write(`${table}\n`);
    if (!same) process.stdout.write('docs/reliability.md does not match this run: run `npm run reliability` and commit it\n');
    if (failed.length || !same) process.exitCode = 1;
    return;
  }
  await writeFile(DOC, doc, 'utf8');
  process.stdout.write(`${table}\n\nwritten to ${DOC}\n`);
  if (failed.length) process.exitCode = 1;
}

await main();
