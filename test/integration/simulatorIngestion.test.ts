import assert from 'node:assert/strict';
import { request } from 'node:https';
import { deflateSync, gzipSync } from 'node:zlib';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { isAggregateLogsUploadError, LogsIngestionClient, type LogsIngestionClientOptions, type LogsUploadFailure } from '@azure/monitor-ingestion';
import { describe, it } from 'vitest';
import { DEVELOPMENT_TOKEN } from '../../src/collect/clients.js';
import type { Finding } from '../../src/domain/rule.js';
import { FINDINGS_TABLE, type FindingRow, findingRow, SCANS_TABLE, scanRow } from '../../src/export/tables.js';
import { INGESTION_MAX_BYTES, receivedKey, SIMULATOR_DCR_ID } from '../../src/simulator/ingestion.js';
import type { ArmSimulator, SimulatorRequest, SimulatorResponse } from '../../src/simulator/server.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { withSimulator } from '../helpers/sample.js';

/**
 * The simulator's Logs Ingestion API (the export's destination), driven through the real
 * `LogsIngestionClient` of `@azure/monitor-ingestion` — its path, gzip, 1 MB chunking, per-chunk
 * failure report and retries — and, for what the SDK never sends (one call over the limit, a bad
 * encoding), through plain HTTPS.
 */

const SUB = '11111111-2222-4333-8444-555555555555';
const AT = '2026-11-21T03:00:05.000Z';
const SCAN_ID = '2026-11-21T03-00-00Z-abc123';
const FINDINGS = receivedKey(SIMULATOR_DCR_ID, FINDINGS_TABLE.stream);
const SCANS = receivedKey(SIMULATOR_DCR_ID, SCANS_TABLE.stream);
const MONITOR_SCOPE = 'https://monitor.azure.com/.default';

/** A credential with a fixed token that records the scopes it is asked for. */
function tokenCredential(token: string, scopes: string[] = []): TokenCredential {
  return {
    async getToken(scope: string | string[]): Promise<AccessToken> {
      scopes.push(...[scope].flat());
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

function ingestionClient(sim: ArmSimulator, credential?: TokenCredential, o: LogsIngestionClientOptions = {}): LogsIngestionClient {
  credential ??= tokenCredential(DEVELOPMENT_TOKEN);
  return new LogsIngestionClient(sim.url, credential, { tlsOptions: { ca: sim.caCertificate }, ...o });
}

function aFinding(o: Partial<Finding> = {}): Finding {
  const accountName = o.accountName ?? 'oai-one';
  return {
    ruleId: 'NSP-02',
    resourceId: `/subscriptions/${SUB}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/${accountName}`,
    outcome: 'fail',
    code: 'perimeter-learning',
    severity: 'high',
    message: 'The perimeter association is in Learning mode',
    subscriptionId: SUB,
    resourceGroup: 'rg-ai',
    accountName,
    kind: 'OpenAI',
    location: 'eastus',
    tags: {},
    evidence: {},
    ...o,
  };
}

function aScan(o: { accounts: number; compliant: number }): ScanDocument {
  const counts = (pass: number, fail: number) => ({ pass, fail, not_applicable: 1, unknown: 0 });
  return {
    schemaVersion: 1,
    scanId: SCAN_ID,
    startedAt: '2026-11-21T03:00:00.000Z',
    finishedAt: AT,
    status: 'partial',
    scope: { subscriptions: [SUB], managementGroups: [], deepInspection: true },
    coverage: {
      subscriptions: [{ id: SUB, status: 'read' }, { id: 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f', status: 'unreadable', reason: 'AuthorizationFailed' }],
      accounts: o.accounts,
      tables: [],
      deepInspection: { accounts: o.accounts, failed: 0 },
      problems: [],
    },
    rules: [],
    summary: {
      byOutcome: counts(7, 3),
      bySeverity: { high: counts(2, 2), medium: counts(3, 1), low: counts(2, 0) },
      byRule: {},
      exempted: { byOutcome: counts(0, 1), failsBySeverity: { high: 1, medium: 0, low: 0 }, failsByRule: {} },
      expiredExemptions: 0,
      accounts: { evaluated: o.accounts, compliant: o.compliant, withFail: o.accounts - o.compliant, withUnknown: 0 },
    },
    stats: { durationMs: 1000, resourceGraphPages: 3, resourceGraphRequests: 3, armRequests: 2, throttledResponses: 0 },
  };
}

function rowOf(f: Finding): FindingRow {
  return findingRow(f, { scanId: SCAN_ID, at: AT, source: 'scan', controls: { mcsb: ['NS-2'], nist: ['SC-7'] } });
}

/** The failures of an upload that must fail (the SDK's AggregateLogsUploadError). */
async function uploadFailures(upload: Promise<void>): Promise<LogsUploadFailure[]> {
  try {
    await upload;
  } catch (error) {
    assert.ok(isAggregateLogsUploadError(error), `an AggregateLogsUploadError, not ${String(error)}`);
    return error.errors;
  }
  assert.fail('the upload was expected to fail');
}

/** The cause of a failure as the SDK builds it from the answer (a RestError). */
function causeOf(failure: LogsUploadFailure | undefined): { statusCode?: number; code?: string; message: string } {
  assert.ok(failure, 'a failure');
  return failure.cause as Error & { statusCode?: number; code?: string };
}

/** A POST to the simulator over plain HTTPS: status and parsed JSON body (undefined when empty). */
type Answer = { status: number; body: { error?: { code?: string; message?: string } } | undefined };

async function post(sim: ArmSimulator, path: string, body: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, sim.url), {
      method: 'POST',
      ca: sim.caCertificate,
      headers: { authorization: `Bearer ${DEVELOPMENT_TOKEN}`, 'content-type': 'application/json', 'content-length': String(body.length), ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const STREAM_PATH = `/dataCollectionRules/${SIMULATOR_DCR_ID}/streams/${FINDINGS_TABLE.stream}`;

/** Finding rows whose JSON totals about `bytes`, each with a distinct message (row i says "#i"). */
function findingRows(count: number, messageChars: number): FindingRow[] {
  return Array.from({ length: count }, (_, i) => rowOf(aFinding({ accountName: `oai-${i}`, message: `#${i} ${'x'.repeat(messageChars)}` })));
}

const byMessage = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.Message).localeCompare(String(b.Message));

describe('simulator: Logs Ingestion API', () => {
  it('receives rows of both export tables over the SDK: the documented path, gzip, the monitor scope, every declared column and type', async () => {
    const seen: SimulatorRequest[] = [];
    const scopes: string[] = [];
    await withSimulator({ fault: (r) => void (r.kind === 'ingestion' && seen.push(r)) }, async (sim) => {
      const findings = [
        rowOf(aFinding()),
        rowOf(aFinding({ accountName: 'oai-two', outcome: 'pass', severity: 'medium', kind: null, message: 'Enforced' })),
        rowOf(aFinding({ accountName: 'oai-three', exemption: { name: 'lab', category: 'Waiver', justification: 'lab account' } })),
      ];
      const scans = [scanRow(aScan({ accounts: 4, compliant: 3 })), scanRow(aScan({ accounts: 0, compliant: 0 }))];
      assert.equal(scans[1]?.CompliantPercent, null, 'a scan without accounts has no percentage (a null real)');
      const client = ingestionClient(sim, tokenCredential(DEVELOPMENT_TOKEN, scopes));
      await client.upload(SIMULATOR_DCR_ID, FINDINGS_TABLE.stream, findings);
      await client.upload(SIMULATOR_DCR_ID, SCANS_TABLE.stream, scans);

      assert.deepEqual(sim.ingestion.received[FINDINGS], findings);
      assert.deepEqual(sim.ingestion.received[SCANS], scans);
      for (const [table, rows] of [[FINDINGS_TABLE, findings], [SCANS_TABLE, scans]] as const) {
        for (const row of rows) assert.deepEqual(Object.keys(row).sort(), table.columns.map((c) => c.name).sort(), `${table.table}: every declared column, no other`);
      }
      assert.equal(findings[2]?.Exempted, true);
      assert.equal(findings[1]?.Kind, '');

      // The SDK's URL template percent-encodes the parameter's name (`api%2Dversion`); a query parser
      // decodes it to `api-version`, as the simulator's does.
      assert.deepEqual(seen.map((r) => [r.method, r.path, new URLSearchParams(r.search).get('api-version')]), [
        ['POST', `/dataCollectionRules/${SIMULATOR_DCR_ID}/streams/Custom-PerimeterAuditorFindings`, '2023-01-01'],
        ['POST', `/dataCollectionRules/${SIMULATOR_DCR_ID}/streams/Custom-PerimeterAuditorScans`, '2023-01-01'],
      ]);
      assert.equal(seen[0]?.search, '?api%2Dversion=2023-01-01');
      assert.deepEqual(sim.ingestion.uploads.map((u) => [u.stream, u.rows, u.contentEncoding]), [
        [FINDINGS_TABLE.stream, 3, 'gzip'],
        [SCANS_TABLE.stream, 2, 'gzip'],
      ]);
      assert.ok(sim.ingestion.uploads.every((u) => u.bytes < u.decodedBytes), 'the bodies arrived gzipped');
      assert.equal(sim.stats.ingestionRequests, 2);
      assert.deepEqual([...new Set(scopes)], [MONITOR_SCOPE], 'the SDK asks for the Azure Monitor audience');
    });
  });

  it('refuses a call whose rows do not fit the declared columns (400 naming row and column); the SDK reports that chunk as failed logs', async () => {
    await withSimulator({}, async (sim) => {
      const client = ingestionClient(sim);
      const good = rowOf(aFinding());
      const upload = (rows: Array<Record<string, unknown>>, stream: string = FINDINGS_TABLE.stream) => client.upload(SIMULATOR_DCR_ID, stream, rows);

      const [wrongType, ...more] = await uploadFailures(upload([good, { ...good, Exempted: 'yes' }]));
      assert.equal(more.length, 0, 'one chunk, one failure');
      assert.deepEqual(wrongType?.failedLogs, [good, { ...good, Exempted: 'yes' }], 'the whole chunk is reported failed');
      const cause = causeOf(wrongType);
      assert.equal(cause.statusCode, 400);
      assert.equal(cause.code, 'InvalidPayload');
      assert.match(cause.message, /row 1, column 'Exempted': expected boolean, got string "yes"/);

      const unknown = causeOf((await uploadFailures(upload([{ ...good, Severity2: 'high' }])))[0]);
      assert.equal(unknown.statusCode, 400);
      assert.match(unknown.message, /row 0, column 'Severity2': the stream declares no such column/);

      // One wrong value per column type of the two tables.
      const scan = scanRow(aScan({ accounts: 4, compliant: 3 }));
      const refused: Array<[string, Record<string, unknown>, RegExp]> = [
        [FINDINGS_TABLE.stream, { ...good, ScanId: 7 }, /'ScanId': expected string, got number 7/],
        [FINDINGS_TABLE.stream, { ...good, TimeGenerated: 'yesterday' }, /'TimeGenerated': expected datetime/],
        [FINDINGS_TABLE.stream, { ...good, TimeGenerated: Date.parse(AT) }, /'TimeGenerated': expected datetime, got number/],
        [FINDINGS_TABLE.stream, { ...good, TimeGenerated: '2026-13-45T00:00:00Z' }, /'TimeGenerated': expected datetime/],
        [FINDINGS_TABLE.stream, { ...good, Exempted: 0 }, /'Exempted': expected boolean, got number 0/],
        [SCANS_TABLE.stream, { ...scan, Accounts: 4.5 }, /'Accounts': expected long, got number 4.5/],
        [SCANS_TABLE.stream, { ...scan, Fail: '3' }, /'Fail': expected long, got string "3"/],
        [SCANS_TABLE.stream, { ...scan, CompliantPercent: '75' }, /'CompliantPercent': expected real, got string "75"/],
        [SCANS_TABLE.stream, { ...scan, StartedAt: true }, /'StartedAt': expected datetime, got boolean true/],
      ];
      for (const [stream, row, message] of refused) {
        const failure = causeOf((await uploadFailures(upload([row], stream)))[0]);
        assert.equal(failure.statusCode, 400, String(message));
        assert.match(failure.message, message);
      }
      // Not a row at all.
      assert.match(causeOf((await uploadFailures(upload([good, 'text' as unknown as Record<string, unknown>])))[0]).message, /row 1 is not a JSON object/);
      assert.deepEqual(Object.keys(sim.ingestion.received), [], 'a refused call stores nothing');

      // What does fit: dynamic takes any JSON, null stands for no value, a real may be integral, a
      // column may be left out.
      const { Source: _left, ...withoutSource } = good;
      const fitting = [{ ...good, Controls: ['NS-2', 1, null] }, { ...good, Controls: 'text' }, { ...good, Message: null }, withoutSource];
      await upload(fitting);
      await upload([{ ...scan, CompliantPercent: 75 }, { ...scan, CompliantPercent: null }], SCANS_TABLE.stream);
      assert.deepEqual(sim.ingestion.received[FINDINGS], fitting);
      assert.equal(sim.ingestion.received[SCANS]?.length, 2);
    });
  });

  it('splits more than 1 MB of rows into calls under the limit that all arrive; a failed chunk is reported alone', async () => {
    await withSimulator({}, async (sim) => {
      const rows = findingRows(3000, 1000);
      const jsonBytes = Buffer.byteLength(JSON.stringify(rows));
      assert.ok(jsonBytes > 3 * 1_000_000, `${jsonBytes} bytes of rows`);
      await ingestionClient(sim).upload(SIMULATOR_DCR_ID, FINDINGS_TABLE.stream, rows);

      const uploads = sim.ingestion.uploads;
      assert.ok(uploads.length >= Math.ceil(jsonBytes / 1_000_000), `${uploads.length} calls for ${jsonBytes} bytes`);
      assert.equal(sim.stats.ingestionRequests, uploads.length, 'every call was accepted');
      assert.ok(uploads.every((u) => u.decodedBytes <= INGESTION_MAX_BYTES && u.contentEncoding === 'gzip'), 'each call under 1 MiB, gzipped');
      assert.equal(uploads.reduce((n, u) => n + u.rows, 0), rows.length);
      assert.deepEqual([...(sim.ingestion.received[FINDINGS] ?? [])].sort(byMessage), [...rows].sort(byMessage), 'every row arrived once');

      // A bad row in the last chunk: that chunk alone fails, the others arrive.
      const second = findingRows(2500, 1000).map((r) => ({ ...r, ScanId: 'second' }));
      const bad = { ...second[2499], Accounts: 1 } as Record<string, unknown>;
      const sent: Array<Record<string, unknown>> = [...second.slice(0, 2499), bad];
      const failures = await uploadFailures(ingestionClient(sim).upload(SIMULATOR_DCR_ID, FINDINGS_TABLE.stream, sent));
      assert.equal(failures.length, 1);
      const failed = failures[0]?.failedLogs ?? [];
      assert.ok(failed.includes(bad) && failed.length < sent.length, `${failed.length} of ${sent.length} rows in the failed chunk`);
      assert.match(causeOf(failures[0]).message, new RegExp(`row ${failed.length - 1}, column 'Accounts': the stream declares no such column`));
      const arrived = (sim.ingestion.received[FINDINGS] ?? []).filter((r) => r.ScanId === 'second');
      assert.deepEqual(arrived.sort(byMessage), sent.filter((r) => !failed.includes(r)).sort(byMessage));
    });
  });

  it('answers one call over 1 MiB, as sent or once decompressed, with 413 ContentLengthLimitExceeded; just under it is accepted', async () => {
    await withSimulator({}, async (sim) => {
      const path = `${STREAM_PATH}?api-version=2023-01-01`;
      const over = Buffer.from(JSON.stringify(findingRows(900, 1000)));
      assert.ok(over.length > INGESTION_MAX_BYTES);
      const raw = await post(sim, path, over);
      assert.equal(raw.status, 413);
      assert.equal(raw.body?.error?.code, 'ContentLengthLimitExceeded');
      assert.match(raw.body?.error?.message ?? '', new RegExp(`Maximum allowed content length: 1048576 bytes \\(1 MB\\)\\. Provided content length: ${over.length} bytes`));

      const zipped = gzipSync(over);
      assert.ok(zipped.length < INGESTION_MAX_BYTES / 10, 'small once compressed');
      const decompressed = await post(sim, path, zipped, { 'content-encoding': 'gzip' });
      assert.equal(decompressed.status, 413, 'the limit holds for the decompressed body too');
      assert.equal(decompressed.body?.error?.code, 'ContentLengthLimitExceeded');
      assert.match(decompressed.body?.error?.message ?? '', /Provided content length: more than 1048576 bytes once decompressed/);

      const under = Buffer.from(JSON.stringify(findingRows(600, 1000)));
      assert.ok(under.length > 900_000 && under.length <= INGESTION_MAX_BYTES, `${under.length} bytes`);
      assert.equal((await post(sim, path, under)).status, 204);
      assert.equal(sim.ingestion.received[FINDINGS]?.length, 600, 'only the call under the limit arrived');
      assert.deepEqual(sim.ingestion.uploads.map((u) => u.contentEncoding), [''], 'sent without an encoding');
    });
  });

  it('answers the REST edges in the service\'s error shape: api-version, unknown rule or stream, encoding, body not an array', async () => {
    await withSimulator({}, async (sim) => {
      const rows = Buffer.from(JSON.stringify([rowOf(aFinding())]));
      const cases: Array<[string, Buffer, Record<string, string>, number, string]> = [
        [STREAM_PATH, rows, {}, 400, 'MissingApiVersionParameter'],
        [`${STREAM_PATH}?api-version=2019-01-01`, rows, {}, 400, 'UnsupportedApiVersion'],
        [`/dataCollectionRules/dcr-ffffffffffffffffffffffffffffffff/streams/${FINDINGS_TABLE.stream}?api-version=2023-01-01`, rows, {}, 404, 'DataCollectionRuleNotFound'],
        [`/dataCollectionRules/${SIMULATOR_DCR_ID}/streams/Custom-PerimeterAuditorFindings_CL?api-version=2023-01-01`, rows, {}, 404, 'StreamNotFound'],
        [`${STREAM_PATH}?api-version=2023-01-01`, deflateSync(rows), { 'content-encoding': 'deflate' }, 415, 'UnsupportedContentEncoding'],
        [`${STREAM_PATH}?api-version=2023-01-01`, rows, { 'content-encoding': 'gzip' }, 400, 'InvalidContentEncoding'],
        [`${STREAM_PATH}?api-version=2023-01-01`, Buffer.from('{"TimeGenerated":"2026-11-21T03:00:05Z"}'), {}, 400, 'InvalidPayload'],
        [`${STREAM_PATH}?api-version=2023-01-01`, Buffer.from('[{"TimeGenerated":'), {}, 400, 'InvalidPayload'],
      ];
      for (const [path, body, headers, status, code] of cases) {
        const answer = await post(sim, path, body, headers);
        assert.deepEqual([answer.status, answer.body?.error?.code], [status, code], path);
        assert.equal(typeof answer.body?.error?.message, 'string');
      }
      assert.equal(sim.stats.ingestionRequests, cases.length);
      assert.deepEqual(sim.ingestion.received, {});
      const get = await new Promise<number>((resolve, reject) => {
        request(new URL(STREAM_PATH, sim.url), { ca: sim.caCertificate, headers: { authorization: `Bearer ${DEVELOPMENT_TOKEN}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject).end();
      });
      assert.equal(get, 404, 'only POST is an ingestion call');
      assert.equal(sim.stats.ingestionRequests, cases.length);
    });
  });

  it('answers 403 OperationFailed to an identity the rule does not admit; the SDK does not retry it', async () => {
    const rows = [rowOf(aFinding())];
    await withSimulator({}, async (sim) => {
      const stranger = ingestionClient(sim, tokenCredential('token-of-another-identity'));
      const failures = await uploadFailures(stranger.upload(SIMULATOR_DCR_ID, FINDINGS_TABLE.stream, rows));
      assert.deepEqual(failures[0]?.failedLogs, rows);
      const cause = causeOf(failures[0]);
      assert.deepEqual([cause.statusCode, cause.code], [403, 'OperationFailed']);
      assert.match(cause.message, new RegExp(`does not have access to ingest data for the data collection rule with immutable Id '${SIMULATOR_DCR_ID}'`));
      assert.equal(sim.stats.ingestionRequests, 1);
      assert.equal(sim.ingestion.received[FINDINGS], undefined);
    });
    // The option: the exporter's identity admitted, the development token refused.
    await withSimulator({ ingestion: { acceptToken: (t) => t === 'exporter-identity' } }, async (sim) => {
      const refused = await uploadFailures(ingestionClient(sim).upload(SIMULATOR_DCR_ID, FINDINGS_TABLE.stream, rows));
      assert.equal(causeOf(refused[0]).statusCode, 403);
      await ingestionClient(sim, tokenCredential('exporter-identity')).upload(SIMULATOR_DCR_ID, FINDINGS_TABLE.stream, rows);
      assert.deepEqual(sim.ingestion.received[FINDINGS], rows);
    });
  });

  it('faults on the ingestion route: a 429 with Retry-After and a 503 are retried by the SDK and the rows arrive once; a 429 without Retry-After fails the chunk', async () => {
    const rows = [rowOf(aFinding()), rowOf(aFinding({ accountName: 'oai-two' }))];
    const throttled = { error: { code: 'TooManyRequests', message: 'Too many requests.' } };
    let script: Array<SimulatorResponse | undefined> = [];
    await withSimulator({ fault: (r) => (r.kind === 'ingestion' ? script[r.sequence - 1] : undefined) }, async (sim) => {
      script = [{ status: 429, headers: { 'retry-after': '0' }, body: throttled }];
      await ingestionClient(sim).upload(SIMULATOR_DCR_ID, FINDINGS_TABLE.stream, rows);
      assert.equal(sim.stats.ingestionRequests, 2, 'the SDK retried the 429 once, after the Retry-After of 0 s');
      assert.equal(sim.stats.throttled, 1);
      assert.deepEqual(sim.ingestion.received[FINDINGS], rows);

      script[2] = { status: 429, body: throttled };
      const failures = await uploadFailures(ingestionClient(sim).upload(SIMULATOR_DCR_ID, FINDINGS_TABLE.stream, rows));
      assert.deepEqual([causeOf(failures[0]).statusCode, causeOf(failures[0]).code], [429, 'TooManyRequests']);
      assert.deepEqual(failures[0]?.failedLogs, rows);
      assert.equal(sim.stats.ingestionRequests, 3, 'a 429 without Retry-After is not retried');

      // 5xx: the SDK's exponential retry (its delays shortened here; 1 s, doubling, by default).
      script[3] = { status: 503, body: { error: { code: 'ServiceUnavailable', message: 'Try again.' } } };
      const quick = ingestionClient(sim, undefined, { retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 1 } });
      await quick.upload(SIMULATOR_DCR_ID, FINDINGS_TABLE.stream, rows);
      assert.equal(sim.stats.ingestionRequests, 5);
      assert.deepEqual(sim.ingestion.received[FINDINGS], [...rows, ...rows], 'each successful upload stored its rows once');
    });
  });

  it('carries hostile text as data, unchanged: markup, formulas, bidi overrides, 10 kB names, JSON look-alikes', async () => {
    const hostile = {
      markup: '<script>window.__pwned=1</script>',
      formula: '=cmd|\' /C calc\'!A0',
      bidi: 'invoice\u202Efdp.exe',
      long: `oai-${'n'.repeat(10_240)}`,
      json: '"}],[{"Outcome":"pass',
      controls: '\u0000\t\r\n\\',
      surrogate: 'lone \uD800 half',
    };
    const rows = [
      rowOf(aFinding({ accountName: hostile.long, message: hostile.markup, location: hostile.bidi })),
      findingRow(aFinding({ accountName: hostile.formula, message: hostile.json, resourceGroup: hostile.controls, kind: hostile.surrogate }), {
        scanId: SCAN_ID,
        at: AT,
        source: 'event',
        controls: { [hostile.markup]: [hostile.formula, hostile.bidi] },
      }),
    ];
    await withSimulator({}, async (sim) => {
      await ingestionClient(sim).upload(SIMULATOR_DCR_ID, FINDINGS_TABLE.stream, rows);
      const received = sim.ingestion.received[FINDINGS] ?? [];
      assert.deepEqual(received, rows);
      assert.equal(received[0]?.AccountName, hostile.long);
      assert.equal(String(received[0]?.AccountName).length, 10_244);
      assert.equal(received[0]?.Location, hostile.bidi);
      assert.equal(received[1]?.Kind, hostile.surrogate);
    });
  });
});
