import type { ProgressLog } from '../collect/collector.js';
import { coverageOf } from '../reports/coverage.js';
import type { WebhookConfig } from '../config/alerts.js';
import type { FindingSource } from '../store/artifact.js';
import type { ScanDocument } from '../store/scanDocument.js';
import type { StoredScan } from '../store/stores.js';
import { type DispatchOptions, type DispatchOutcome, dispatchAlert } from './dispatch.js';
import type { AlertLedger } from './ledger.js';
import { computeTransitions, previousOutcomes, readBy } from '../engine/diff.js';
import { withEventStates } from './transitions.js';

/**
 * A scheduled scan's alerts: the transitions from the previously committed scan to this one
 * (engine/diff.ts, the same diff as the HTML report's "new / resolved"), sent as one digest per
 * webhook. Unlike the report, the previous side also takes what change events learned since that
 * scan (`eventStates`), so a transition an event already alerted is not sent again. Never throws.
 */
export async function alertOnScan(o: {
  scan: ScanDocument;
  previous: StoredScan | undefined;
  current: FindingSource;
  webhooks: readonly WebhookConfig[];
  ledger: AlertLedger;
  /** Base URL of the reports API (`https://<app>/api`); without it the digest names the blob path. */
  reportBaseUrl?: string | undefined;
  /** Account states kept by change events; their newer outcomes replace the previous scan's. */
  eventStates?: Parameters<typeof withEventStates>[1];
  log?: ProgressLog;
  dispatch?: DispatchOptions;
}): Promise<DispatchOutcome[]> {
  const log = o.log ?? (() => {});
  try {
    if (o.webhooks.length === 0) return [];
    const fromScan = o.previous ? await previousOutcomes(o.previous.findings) : new Map();
    const previous = o.eventStates ? withEventStates(fromScan, o.eventStates, o.previous?.scan.finishedAt) : fromScan;
    const transitions = await computeTransitions(previous, o.current, readBy(o.scan));
    const report = o.reportBaseUrl
      ? `${o.reportBaseUrl.replace(/\/+$/, '')}/scans/${o.scan.scanId}/report?format=html`
      : `scans/${o.scan.scanId}/report.html`;
    log(`alerts: ${transitions.length} transition(s) since ${o.previous ? `scan ${o.previous.scan.scanId}` : 'no previous scan'}`);
    return await dispatchAlert(
      { sourceId: o.scan.scanId, kind: 'digest', scanId: o.scan.scanId, time: o.scan.finishedAt, transitions, report, accounts: o.scan.coverage.accounts, coverage: coverageOf(o.scan) },
      o.webhooks,
      o.ledger,
      { ...o.dispatch, log },
    );
  } catch (error) {
    log(`alerts failed: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  }
}
