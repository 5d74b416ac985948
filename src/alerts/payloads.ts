import type { WebhookFormat } from '../config/alerts.js';
import { SEVERITIES, type Severity } from '../domain/rule.js';
import type { CoverageSummary } from '../reports/coverage.js';
import type { Transition, TransitionKind } from '../engine/diff.js';
import { worstFirst } from './transitions.js';

/**
 * Message bodies for the three webhook formats. Resource text (names, messages) is attacker-
 * controlled, so Teams cards carry it in `TextRun`s (never parsed as Markdown) and Slack blocks in
 * `plain_text` objects (never parsed as mrkdwn, so no `<!channel>` or link injection). Bodies are
 * capped in size: items are dropped (and counted as "more") until the body fits.
 *
 * Sources: CloudEvents 1.0 JSON format (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md);
 * Microsoft Teams Workflows webhooks take a message with an Adaptive Card attachment
 * (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using);
 * Slack incoming webhooks take Block Kit `blocks` (https://api.slack.com/messaging/webhooks).
 */

/** One alert: a scan's digest or a change evaluation's transitions. */
export interface AlertMessage {
  /** The scan ID (digest) or the change event ID; with the webhook name it makes the delivery ID. */
  readonly sourceId: string;
  readonly kind: 'digest' | 'change';
  readonly scanId?: string;
  /** ISO 8601 UTC. */
  readonly time: string;
  /** Transitions for this webhook (already filtered by its severity). */
  readonly transitions: readonly Transition[];
  /** Where the report is: a URL, or a blob path when no base URL is configured. */
  readonly report?: string;
  /** Accounts the evaluation covered (count). */
  readonly accounts?: number;
  /** What the scan read (a digest): shown with the counts, so a partial scan never reads as whole. */
  readonly coverage?: CoverageSummary;
}

/** The coverage members of a CloudEvent digest's `data`. */
function coverageData(c: CoverageSummary): Record<string, unknown> {
  return {
    status: c.status,
    accountsRead: c.accountsRead,
    subscriptionsInScope: c.subscriptions.inScope,
    subscriptionsRead: c.subscriptions.read,
    subscriptionsUnreadable: c.subscriptions.unreadable,
    text: c.text,
  };
}

/** "Coverage (partial scan): 16 accounts read in 2 of 3 subscriptions in scope; …". */
function coverageLine(c: CoverageSummary): string {
  return `Coverage${c.status === 'partial' ? ' (partial scan)' : ''}: ${c.text}`;
}

/** A body ready to send. */
export interface Payload {
  readonly contentType: string;
  readonly body: string;
  /** Items left out to respect the size cap (count). */
  readonly omitted: number;
}

/** Largest body per format (bytes): Teams cards are limited to about 28 KB, Slack messages to about 40 KB. */
export const MAX_BODY_BYTES: Readonly<Record<WebhookFormat, number>> = { cloudevents: 256 * 1024, teams: 26 * 1024, slack: 38 * 1024 };
/** Most items a message lists (count). */
export const MAX_ITEMS = 20;
const MAX_TEXT = 400;

function clip(text: string, max = MAX_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function counts(transitions: readonly Transition[]): Record<TransitionKind, number> {
  const c: Record<TransitionKind, number> = { opened: 0, regressed: 0, resolved: 0 };
  for (const t of transitions) c[t.kind] += 1;
  return c;
}

function bySeverity(transitions: readonly Transition[]): Record<Severity, number> {
  const c = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const t of transitions) c[t.severity] += 1;
  return c;
}

/** The headline, e.g. "2 new fails, 1 regression, 3 resolved". */
export function headline(transitions: readonly Transition[]): string {
  const c = counts(transitions);
  const parts = [
    c.opened ? `${c.opened} new fail${c.opened === 1 ? '' : 's'}` : '',
    c.regressed ? `${c.regressed} regression${c.regressed === 1 ? '' : 's'}` : '',
    c.resolved ? `${c.resolved} resolved` : '',
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'no change';
}

function itemText(t: Transition): string {
  return `${t.severity.toUpperCase()} ${t.kind} · ${t.ruleId} · ${t.accountName} (${t.subscriptionId}/${t.resourceGroup}) · ${clip(t.message)}`;
}

/** CloudEvent `type` of a message. */
export function eventType(message: AlertMessage): string {
  if (message.kind === 'digest') return 'perimeterauditor.findings.digest';
  const kinds = [...new Set(message.transitions.map((t) => t.kind))];
  return kinds.length === 1 ? `perimeterauditor.findings.${kinds[0]}` : 'perimeterauditor.findings.changed';
}

function cloudEvent(message: AlertMessage, deliveryId: string, items: readonly Transition[], omitted: number): unknown {
  return {
    specversion: '1.0',
    id: deliveryId,
    source: '/perimeter-auditor',
    type: eventType(message),
    subject: message.scanId ?? message.sourceId,
    time: message.time,
    datacontenttype: 'application/json',
    data: {
      kind: message.kind,
      ...(message.scanId ? { scanId: message.scanId } : {}),
      ...(message.accounts !== undefined ? { accounts: message.accounts } : {}),
      ...(message.coverage ? { coverage: coverageData(message.coverage) } : {}),
      counts: counts(message.transitions),
      bySeverity: bySeverity(message.transitions),
      items: items.map((t) => ({ ...t, message: clip(t.message, 2000) })),
      omitted,
      ...(message.report ? { report: message.report } : {}),
    },
  };
}

function teamsCard(message: AlertMessage, items: readonly Transition[], omitted: number): unknown {
  const c = counts(message.transitions);
  const isUrl = message.report?.startsWith('https://') ?? false;
  const run = (text: string, extra: Record<string, unknown> = {}) => ({ type: 'TextRun', text, ...extra });
  const body: unknown[] = [
    { type: 'TextBlock', size: 'Large', weight: 'Bolder', wrap: true, text: 'Azure AI perimeter audit' },
    { type: 'RichTextBlock', inlines: [run(headline(message.transitions), { weight: 'Bolder' })] },
    {
      type: 'FactSet',
      facts: [
        ...(message.scanId ? [{ title: 'Scan', value: message.scanId }] : [{ title: 'Change', value: message.sourceId }]),
        { title: 'New fails', value: String(c.opened) },
        { title: 'Regressions', value: String(c.regressed) },
        { title: 'Resolved', value: String(c.resolved) },
        ...(message.accounts !== undefined ? [{ title: 'Accounts', value: String(message.accounts) }] : []),
      ],
    },
    ...(message.coverage
      ? [{ type: 'RichTextBlock', inlines: [run(coverageLine(message.coverage), message.coverage.status === 'partial' ? { color: 'Warning' } : { isSubtle: true })] }]
      : []),
    ...items.map((t) => ({
      type: 'RichTextBlock',
      inlines: [run(`${t.severity.toUpperCase()} ${t.kind}`, { weight: 'Bolder', color: t.kind === 'resolved' ? 'Good' : 'Attention' }), run(` · ${t.ruleId} · ${t.accountName} · ${clip(t.message)}`)],
    })),
    ...(omitted > 0 ? [{ type: 'RichTextBlock', inlines: [run(`… and ${omitted} more in the report`, { isSubtle: true })] }] : []),
    ...(message.report && !isUrl ? [{ type: 'RichTextBlock', inlines: [run(`Report: ${message.report}`, { isSubtle: true })] }] : []),
  ];
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body,
          ...(isUrl ? { actions: [{ type: 'Action.OpenUrl', title: 'Open the report', url: message.report }] } : {}),
        },
      },
    ],
  };
}

function slackMessage(message: AlertMessage, items: readonly Transition[], omitted: number): unknown {
  const c = counts(message.transitions);
  const plain = (text: string) => ({ type: 'plain_text', text: clip(text, 2900), emoji: false });
  const blocks: unknown[] = [
    { type: 'header', text: plain(clip(`Azure AI perimeter audit: ${headline(message.transitions)}`, 150)) },
    {
      type: 'section',
      fields: [
        plain(message.scanId ? `Scan ${message.scanId}` : `Change ${message.sourceId}`),
        plain(`New fails: ${c.opened}`),
        plain(`Regressions: ${c.regressed}`),
        plain(`Resolved: ${c.resolved}`),
      ],
    },
    ...(message.coverage ? [{ type: 'context', elements: [plain(coverageLine(message.coverage))] }] : []),
    { type: 'divider' },
    ...items.map((t) => ({ type: 'section', text: plain(itemText(t)) })),
    ...(omitted > 0 ? [{ type: 'context', elements: [plain(`… and ${omitted} more in the report`)] }] : []),
    ...(message.report ? [{ type: 'context', elements: [plain(`Report: ${message.report}`)] }] : []),
  ];
  // `text` is the notification fallback; Slack parses it as mrkdwn, so it holds no resource text.
  return { text: `Azure AI perimeter audit: ${headline(message.transitions)}`, blocks };
}

/**
 * Builds the body for a format, worst items first, dropping items until it fits the format's cap.
 * @throws Error when even the empty message does not fit (a bug, not input).
 */
export function buildPayload(format: WebhookFormat, message: AlertMessage, deliveryId: string): Payload {
  const sorted = worstFirst(message.transitions);
  let n = Math.min(MAX_ITEMS, sorted.length);
  for (;;) {
    const items = sorted.slice(0, n);
    const omitted = sorted.length - n;
    const value
      = format === 'cloudevents' ? cloudEvent(message, deliveryId, items, omitted) : format === 'teams' ? teamsCard(message, items, omitted) : slackMessage(message, items, omitted);
    const body = JSON.stringify(value);
    if (Buffer.byteLength(body) <= MAX_BODY_BYTES[format]) {
      return { contentType: format === 'cloudevents' ? 'application/cloudevents+json; charset=utf-8' : 'application/json', body, omitted };
    }
    if (n === 0) throw new Error(`an empty ${format} message exceeds ${MAX_BODY_BYTES[format]} bytes`);
    n = Math.floor(n / 2);
  }
}
