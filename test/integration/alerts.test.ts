import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { deliver, isPublicAddress } from '../../src/alerts/delivery.js';
import { dispatchAlert, replayDeadLetters } from '../../src/alerts/dispatch.js';
import { AlertLedger, BlobKeyValueStore, DirectoryKeyValueStore } from '../../src/alerts/ledger.js';
import { type AlertMessage, buildPayload, MAX_BODY_BYTES } from '../../src/alerts/payloads.js';
import { alertOnScan } from '../../src/alerts/scanAlerts.js';
import type { Transition } from '../../src/engine/diff.js';
import { checkWebhookUrl, loadWebhooks, type WebhookConfig } from '../../src/config/alerts.js';
import { DirectoryStore } from '../../src/store/stores.js';
import { HOSTILE } from '../helpers/hostile.js';
import { sampleTenant, scanSimulator, withSimulator } from '../helpers/sample.js';
import { type ReceiverAnswer, startReceiver } from '../../src/simulator/receiver.js';
import { useAzurite } from '../helpers/azurite.js';
import { fakeClock } from '../helpers/clock.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

function webhook(url: string, o: Partial<WebhookConfig> = {}): WebhookConfig {
  return { name: 'TEST', format: 'cloudevents', url: new URL(url), secret: SECRET, minSeverity: 'high', allowPrivateDestinations: true, ...o };
}

function transition(o: Partial<Transition> = {}): Transition {
  return {
    kind: 'regressed',
    ruleId: 'NSP-02',
    severity: 'high',
    resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a1',
    accountName: 'a1',
    subscriptionId: 's',
    resourceGroup: 'rg',
    from: 'pass',
    to: 'fail',
    message: 'Effective access mode is Learning.',
    ...o,
  };
}

function message(o: Partial<AlertMessage> = {}): AlertMessage {
  return { sourceId: `2026-11-21T03-00-00Z-${randomBytes(3).toString('hex')}`, kind: 'digest', scanId: 'scan', time: '2026-11-21T03:00:00.000Z', transitions: [transition()], ...o };
}

async function withReceiver<T>(respond: (index: number) => ReceiverAnswer, fn: (url: string, requests: () => number) => Promise<T>): Promise<T> {
  const r = await startReceiver((_req, i) => respond(i));
  try {
    return await fn(r.url, () => r.requests.length);
  } finally {
    await r.close();
  }
}

describe('webhook delivery', () => {
  it('signs CloudEvents with Standard Webhooks; the library verifier accepts them and rejects tampering', async () => {
    const r = await startReceiver();
    try {
      const m = message();
      const payload = buildPayload('cloudevents', m, `${m.sourceId}.TEST`);
      const result = await deliver(webhook(r.url), { deliveryId: `${m.sourceId}.TEST`, contentType: payload.contentType, body: payload.body });
      assert.equal(result.ok, true);
      const [got] = r.requests;
      assert.ok(got);
      const headers = Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k, String(v)]));
      assert.equal(headers['webhook-id'], `${m.sourceId}.TEST`);
      assert.equal(headers['content-type'], 'application/cloudevents+json; charset=utf-8');
      const verified = new Webhook(SECRET).verify(got.body, headers) as { specversion: string; type: string; id: string };
      assert.equal(verified.specversion, '1.0');
      assert.equal(verified.type, 'perimeterauditor.findings.digest');
      assert.throws(() => new Webhook(SECRET).verify(got.body.replace('Learning', 'Enforced'), headers));
      assert.throws(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(got.body, headers));
    } finally {
      await r.close();
    }
  });

  it('retries 503, 408 and dropped connections with exponential backoff and jitter, then delivers', async () => {
    const answers: ReceiverAnswer[] = [{ status: 503 }, { status: 408 }, { drop: true }, { status: 204 }];
    await withReceiver(
      (i) => answers[i] ?? { status: 200 },
      async (url, count) => {
        const clock = fakeClock();
        const result = await deliver(webhook(url), { deliveryId: 'd1', contentType: 'application/json', body: '{}' }, { ...clock, baseDelayMs: 1000, maxAttempts: 5 });
        assert.equal(result.ok, true);
        assert.equal(result.attempts, 4);
        // random() = 0.5 → 75 % of base × 2^(attempt−1)
        assert.deepEqual(clock.waits, [750, 1500, 3000]);
        assert.equal(count(), 4);
      },
    );
  });

  it('honours Retry-After on 429 (seconds and HTTP date), capped', async () => {
    const date = new Date(Date.parse('2026-11-21T03:00:00Z') + 12_000).toUTCString();
    const answers: ReceiverAnswer[] = [
      { status: 429, headers: { 'retry-after': '7' } },
      { status: 429, headers: { 'retry-after': date } },
      { status: 429, headers: { 'retry-after': '3600' } },
      { status: 200 },
    ];
    await withReceiver(
      (i) => answers[i] ?? { status: 200 },
      async (url) => {
        const clock = fakeClock();
        const result = await deliver(webhook(url), { deliveryId: 'd2', contentType: 'application/json', body: '{}' }, { ...clock, maxDelayMs: 60_000 });
        assert.equal(result.ok, true);
        assert.equal(clock.waits[0], 7000);
        assert.ok(Math.abs((clock.waits[1] ?? 0) - 5000) <= 1000, `HTTP-date wait ${clock.waits[1]}`);
        assert.equal(clock.waits[2], 60_000);
      },
    );
  });

  it('does not retry other 4xx, 501 or 505, and does not follow redirects', async () => {
    for (const answer of [{ status: 400 }, { status: 401 }, { status: 404 }, { status: 501 }, { status: 505 }, { status: 302, headers: { location: 'http://127.0.0.1:9/elsewhere' } }]) {
      await withReceiver(
        () => answer,
        async (url, count) => {
          const clock = fakeClock();
          const result = await deliver(webhook(url), { deliveryId: 'd3', contentType: 'application/json', body: '{}' }, clock);
          assert.equal(result.ok, false);
          assert.equal(result.attempts, 1, `status ${answer.status}`);
          assert.equal(count(), 1);
          assert.deepEqual(clock.waits, []);
          if (answer.status === 302) assert.match(result.error ?? '', /redirects are not followed/);
        },
      );
    }
  });

  it('times out a slow receiver per attempt and gives up after the last attempt', async () => {
    // The receiver never answers, so each attempt can only end at its deadline, however fast or
    // slow the machine is.
    await withReceiver(
      () => ({ hang: true }),
      async (url, count) => {
        const clock = fakeClock();
        const result = await deliver(webhook(url), { deliveryId: 'd4', contentType: 'application/json', body: '{}' }, { ...clock, timeoutMs: 150, maxAttempts: 3 });
        assert.equal(result.ok, false);
        assert.equal(result.attempts, 3);
        assert.match(result.error ?? '', /no answer within 150 ms/);
        assert.equal(count(), 3);
        assert.equal(clock.waits.length, 2);
      },
    );
  });

  it('refuses private, loopback and link-local destinations unless allowed, before connecting', async () => {
    await withReceiver(
      () => ({ status: 200 }),
      async (url, count) => {
        const refused = await deliver(webhook(url, { allowPrivateDestinations: false }), { deliveryId: 'd5', contentType: 'application/json', body: '{}' });
        assert.equal(refused.ok, false);
        assert.equal(refused.attempts, 1);
        assert.match(refused.error ?? '', /private, loopback or link-local/);
        assert.equal(count(), 0, 'nothing reached the receiver');
      },
    );
    for (const target of ['https://169.254.169.254/metadata', 'https://10.1.2.3/hook', 'https://192.168.0.10/', 'https://[::1]/', 'https://localhost/', 'https://[::ffff:127.0.0.1]/', 'https://100.64.0.1/']) {
      const r = await deliver(webhook(target, { allowPrivateDestinations: false }), { deliveryId: 'd6', contentType: 'application/json', body: '{}' }, { maxAttempts: 1 });
      assert.equal(r.ok, false, target);
      assert.match(r.error ?? '', /private, loopback or link-local/, target);
    }
    for (const a of ['127.0.0.1', '10.0.0.1', '172.16.0.1', '192.168.1.1', '169.254.169.254', '::1', 'fe80::1', 'fc00::1', '::ffff:10.0.0.1', '0.0.0.0', '100.64.0.1']) {
      assert.equal(isPublicAddress(a), false, a);
    }
    for (const a of ['20.190.160.1', '52.239.1.1', '2603:1030::1']) assert.equal(isPublicAddress(a), true, a);
  });

  it('accepts only https URLs (plain http only to loopback) without credentials', () => {
    assert.doesNotThrow(() => checkWebhookUrl('https://hooks.example.com/x', 'S'));
    assert.doesNotThrow(() => checkWebhookUrl('http://127.0.0.1:8080/x', 'S'));
    assert.throws(() => checkWebhookUrl('http://hooks.example.com/x', 'S'), /S: webhooks must use https/);
    assert.throws(() => checkWebhookUrl('ftp://hooks.example.com/x', 'S'), /https/);
    assert.throws(() => checkWebhookUrl('https://user:pass@hooks.example.com/x', 'S'), /credentials/);
    assert.throws(() => checkWebhookUrl('not a url', 'S'), /not a URL/);
  });

  it('reads webhook settings, naming settings in errors and never their values', () => {
    const env = {
      ALERT_WEBHOOKS: JSON.stringify([
        { name: 'SECOPS', format: 'cloudevents' },
        { name: 'TEAMS', format: 'teams', minSeverity: 'medium' },
      ]),
      ALERT_WEBHOOK_SECOPS_URL: 'https://siem.example.com/hook',
      ALERT_WEBHOOK_SECOPS_SECRET: SECRET,
      ALERT_WEBHOOK_TEAMS_URL: 'https://prod-00.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SECRETSIG',
    };
    const hooks = loadWebhooks(env, 'high');
    assert.deepEqual(hooks.map((h) => [h.name, h.format, h.minSeverity]), [['SECOPS', 'cloudevents', 'high'], ['TEAMS', 'teams', 'medium']]);
    assert.throws(() => loadWebhooks({ ...env, ALERT_WEBHOOK_SECOPS_SECRET: '' }), /ALERT_WEBHOOK_SECOPS_SECRET is required/);
    assert.throws(() => loadWebhooks({ ...env, ALERT_WEBHOOK_SECOPS_SECRET: 'hunter2' }), (e: Error) => /ALERT_WEBHOOK_SECOPS_SECRET/.test(e.message) && !e.message.includes('hunter2'));
    assert.throws(() => loadWebhooks({ ...env, ALERT_WEBHOOK_TEAMS_URL: 'http://evil.example/?sig=SECRETSIG' }), (e: Error) => /ALERT_WEBHOOK_TEAMS_URL/.test(e.message) && !e.message.includes('SECRETSIG'));
    assert.throws(() => loadWebhooks({ ...env, ALERT_WEBHOOKS: '[{"name":"lower","format":"teams"}]' }), /ALERT_WEBHOOKS: 0\.name/);
    assert.throws(() => loadWebhooks({ ...env, ALERT_WEBHOOKS: '[{"name":"X","format":"pagerduty"}]' }), /ALERT_WEBHOOKS: 0\.format/);
    assert.deepEqual(loadWebhooks({}), []);
  });
});

describe('payload formats', () => {
  const hostile = transition({ accountName: HOSTILE.markupName, message: `<!channel> [click](http://evil.example) ${HOSTILE.tags.script}` });

  it('Teams: a Workflows message with an Adaptive Card; resource text only in TextRuns', () => {
    const p = buildPayload('teams', message({ transitions: [hostile, transition({ kind: 'resolved', severity: 'high' })], report: 'https://app.example.com/api/scans/x/report?format=html' }), 'id');
    const body = JSON.parse(p.body);
    assert.equal(body.type, 'message');
    const [attachment] = body.attachments;
    assert.equal(attachment.contentType, 'application/vnd.microsoft.card.adaptive');
    const card = attachment.content;
    assert.equal(card.type, 'AdaptiveCard');
    assert.equal(card.$schema, 'http://adaptivecards.io/schemas/adaptive-card.json');
    assert.match(card.version, /^1\.\d$/);
    assert.deepEqual(card.actions, [{ type: 'Action.OpenUrl', title: 'Open the report', url: 'https://app.example.com/api/scans/x/report?format=html' }]);
    const markdownTexts = JSON.stringify(card.body.filter((b: { type: string }) => b.type === 'TextBlock'));
    assert.ok(!markdownTexts.includes('evil.example') && !markdownTexts.includes('<img'), 'no resource text where Markdown is parsed');
    const runs = card.body.filter((b: { type: string }) => b.type === 'RichTextBlock').flatMap((b: { inlines: Array<{ type: string; text: string }> }) => b.inlines);
    assert.ok(runs.every((r: { type: string }) => r.type === 'TextRun'));
    assert.ok(runs.some((r: { text: string }) => r.text.includes(HOSTILE.markupName)));
    assert.ok(Buffer.byteLength(p.body) <= MAX_BODY_BYTES.teams);
  });

  it('Slack: Block Kit with plain_text for resource text and a text fallback without it', () => {
    const p = buildPayload('slack', message({ transitions: [hostile] }), 'id');
    const body = JSON.parse(p.body);
    assert.equal(typeof body.text, 'string');
    assert.ok(!body.text.includes('<!channel>') && !body.text.includes(HOSTILE.markupName));
    assert.ok(Array.isArray(body.blocks) && body.blocks.length <= 50);
    assert.equal(body.blocks[0].type, 'header');
    assert.equal(body.blocks[0].text.type, 'plain_text');
    assert.ok(body.blocks[0].text.text.length <= 150);
    const texts = JSON.stringify(body.blocks);
    assert.ok(!texts.includes('"mrkdwn"'), 'no mrkdwn anywhere');
    assert.ok(texts.includes('<!channel>'), 'kept as plain text');
  });

  it('caps the body: items are dropped and counted', () => {
    const many = Array.from({ length: 2000 }, (_, i) => transition({ accountName: `acct-${i}`, message: 'x'.repeat(1500) }));
    for (const format of ['cloudevents', 'teams', 'slack'] as const) {
      const p = buildPayload(format, message({ transitions: many }), 'id');
      assert.ok(Buffer.byteLength(p.body) <= MAX_BODY_BYTES[format], format);
      assert.ok(p.omitted >= 2000 - 20, `${format} omitted ${p.omitted}`);
      assert.match(p.body, format === 'cloudevents' ? new RegExp(`"omitted":${p.omitted}`) : new RegExp(`and ${p.omitted} more`));
    }
  });
});

describe('dispatch, dead letters and replay (ledger on Azurite)', () => {
  const azurite = useAzurite();
  const ledgerOn = (name: string) =>
    new AlertLedger(new BlobKeyValueStore(azurite.container(name)));

  it('never sends the same message twice, and skips webhooks with nothing at their severity', async () => {
    const r = await startReceiver();
    try {
      const ledger = ledgerOn('dispatch-once');
      const m = message({ transitions: [transition({ severity: 'medium' })] });
      const hooks = [webhook(r.url, { name: 'MEDIUM', minSeverity: 'medium' }), webhook(r.url, { name: 'HIGH', minSeverity: 'high' })];
      const first = await dispatchAlert(m, hooks, ledger);
      assert.deepEqual(first.map((o) => o.status), ['delivered', 'skipped-nothing-to-send']);
      const second = await dispatchAlert(m, hooks, ledger);
      assert.deepEqual(second.map((o) => o.status), ['skipped-already-sent', 'skipped-nothing-to-send']);
      assert.equal(r.requests.length, 1);
    } finally {
      await r.close();
    }
  });

  it('dead-letters after the last attempt (no URL or secret stored), and replay delivers exactly once', async () => {
    let up = false;
    const r = await startReceiver(() => (up ? { status: 200 } : { status: 500 }));
    try {
      const container = azurite.container('deadletters');
      const ledger = new AlertLedger(new BlobKeyValueStore(container));
      const hook = webhook(`${r.url}/hook?token=URLSECRET`);
      const clock = fakeClock();
      const m = message();
      const [outcome] = await dispatchAlert(m, [hook], ledger, { delivery: { ...clock, maxAttempts: 3 } });
      assert.equal(outcome?.status, 'dead-lettered');
      assert.equal(r.requests.length, 3);
      const letters = await ledger.deadLetters();
      assert.equal(letters.length, 1);
      const stored = JSON.stringify(letters);
      assert.ok(!stored.includes('URLSECRET') && !stored.includes(SECRET), 'no URL or secret in the dead letter');
      assert.match(letters[0]?.key ?? '', /^deadletter\/2026-11-21\//);
      assert.equal(letters[0]?.letter.lastError, 'HTTP 500');

      up = true;
      // Replay signs with the real clock: receivers reject timestamps far from their own time.
      const realTime = { sleep: clock.sleep, random: clock.random };
      const totals = await replayDeadLetters([hook], ledger, { delivery: realTime });
      assert.deepEqual(totals, { delivered: 1, failed: 0, unknownWebhook: 0 });
      assert.equal(r.requests.length, 4);
      const replayed = r.requests[3];
      assert.ok(replayed);
      const headers = Object.fromEntries(Object.entries(replayed.headers).map(([k, v]) => [k, String(v)]));
      assert.equal(headers['webhook-id'], `${m.sourceId}.TEST`, 'same delivery ID, so receivers can de-duplicate');
      assert.doesNotThrow(() => new Webhook(SECRET).verify(replayed.body, headers), 're-signed with a fresh timestamp');
      const again = await replayDeadLetters([hook], ledger, { delivery: realTime });
      assert.deepEqual(again, { delivered: 0, failed: 0, unknownWebhook: 0 });
      assert.equal(r.requests.length, 4, 'delivered exactly once');
      assert.equal((await ledger.deadLetters()).length, 0);
    } finally {
      await r.close();
    }
  });

  it('keeps a dead letter whose webhook is no longer configured', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pa-ledger-'));
    const ledger = new AlertLedger(new DirectoryKeyValueStore(dir));
    await ledger.deadLetter({ deliveryId: 'x.GONE', webhook: 'GONE', format: 'slack', contentType: 'application/json', body: '{}', createdAt: '2026-11-21T00:00:00Z', attempts: 5, lastError: 'HTTP 500' });
    assert.deepEqual(await replayDeadLetters([], ledger), { delivered: 0, failed: 0, unknownWebhook: 1 });
    assert.equal((await ledger.deadLetters()).length, 1);
  });
});

describe('alerts on scans', () => {
  it('sends one digest per webhook, then nothing for a scan with no change; the scan survives a dead webhook', async () => {
    const tenant = await sampleTenant();
    const r = await startReceiver();
    const dead = await startReceiver(() => ({ drop: true }));
    try {
      const dir = await mkdtemp(join(tmpdir(), 'pa-alert-scan-'));
      const ledger = new AlertLedger(new DirectoryKeyValueStore(dir));
      const hooks = [webhook(r.url, { name: 'LIVE', format: 'slack', secret: undefined } as Partial<WebhookConfig>), webhook(dead.url, { name: 'DEAD' })];
      const outcomes: string[][] = [];
      await withSimulator({ tenant }, async (sim) => {
        for (let i = 0; i < 2; i++) {
          // Scan IDs have one-second resolution: each scan gets its own second on a fixed clock.
          const at = new Date(Date.UTC(2026, 10, 21, 3, 0, i));
          const result = await scanSimulator(sim, {
            stores: [new DirectoryStore(dir)],
            now: () => at,
            afterCommit: async ({ scan, previous, current }) => {
              const o = await alertOnScan({ scan, previous, current, webhooks: hooks, ledger, dispatch: { delivery: { maxAttempts: 2, baseDelayMs: 1 } } });
              outcomes.push(o.map((x) => `${x.webhook}:${x.status}`));
            },
          });
          assert.equal(result.scan.coverage.accounts, 19, 'the scan completed');
        }
      });
      assert.deepEqual(outcomes, [['LIVE:delivered', 'DEAD:dead-lettered'], ['LIVE:skipped-nothing-to-send', 'DEAD:skipped-nothing-to-send']]);
      assert.equal(r.requests.length, 1);
      const slack = JSON.parse(r.requests[0]?.body ?? '{}');
      assert.match(slack.text, /^Azure AI perimeter audit: \d+ new fails$/);
      // The digest states what the scan read: the sample tenant has an unreadable subscription.
      const coverage = (slack.blocks as Array<{ type: string; elements?: Array<{ text: string }> }>).find((b) => b.type === 'context' && /^Coverage/.test(b.elements?.[0]?.text ?? ''));
      assert.match(coverage?.elements?.[0]?.text ?? '', /^Coverage \(partial scan\): 19 accounts read in 2 of 3 subscriptions in scope; 1 subscription unreadable/);
      assert.equal((await ledger.deadLetters()).length, 1);
    } finally {
      await r.close();
      await dead.close();
    }
  });

  it('a directory store: the digest diffs against the previous scan, not against the findings the save just replaced', async () => {
    const tenant = await sampleTenant();
    const r = await startReceiver();
    try {
      const dir = await mkdtemp(join(tmpdir(), 'pa-alert-dir-'));
      const ledger = new AlertLedger(new DirectoryKeyValueStore(dir));
      const hooks = [webhook(r.url, { name: 'CE', format: 'cloudevents', minSeverity: 'low' })];
      await withSimulator({ tenant }, async (sim) => {
        for (let i = 0; i < 2; i++) {
          const at = new Date(Date.UTC(2026, 10, 21, 4, 0, i));
          await scanSimulator(sim, {
            stores: [new DirectoryStore(dir)],
            now: () => at,
            afterCommit: ({ scan, previous, current }) => alertOnScan({ scan, previous, current, webhooks: hooks, ledger }),
          });
          // Between the scans, local (key) authentication is turned back on for an account that passed AUTH-01.
          const chat = tenant.resources.find((x) => String(x.name) === 'oai-chat-prod');
          (chat?.properties as Record<string, unknown>).disableLocalAuth = false;
        }
      });
      assert.equal(r.requests.length, 2, 'one digest per scan');
      const second = JSON.parse(r.requests[1]?.body ?? '{}') as { data: { items: Array<{ kind: string; ruleId: string; accountName: string }> } };
      assert.deepEqual(second.data.items.map((t) => `${t.kind} ${t.ruleId} ${t.accountName}`), ['regressed AUTH-01 oai-chat-prod']);
    } finally {
      await r.close();
    }
  });
});
