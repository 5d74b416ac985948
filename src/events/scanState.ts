import type { DispatchOptions } from '../alerts/dispatch.js';
import type { AlertLedger } from '../alerts/ledger.js';
import { alertOnScan } from '../alerts/scanAlerts.js';
import type { ProgressLog } from '../collect/collector.js';
import type { WebhookConfig } from '../config/alerts.js';
import { idKey } from '../domain/resourceId.js';
import type { Finding } from '../domain/rule.js';
import type { AccountSnapshot } from '../domain/snapshot.js';
import type { FindingSource } from '../store/artifact.js';
import type { ScanDocument } from '../store/scanDocument.js';
import type { StoredScan } from '../store/stores.js';
import { type StateStore, stateOf } from './state.js';

/**
 * What follows a committed scan in the Function App: alerts against the last known state (the
 * previous scan, updated by newer change events), then the accounts' states for later events.
 */
export async function afterScanCommit(
  o: { scan: ScanDocument; previous: StoredScan | undefined; current: FindingSource; accounts: readonly AccountSnapshot[]; findings: readonly Finding[] },
  deps: {
    state: StateStore;
    webhooks: readonly WebhookConfig[];
    ledger: AlertLedger;
    reportBaseUrl?: string | undefined;
    log: ProgressLog;
    dispatch?: DispatchOptions;
  },
): Promise<void> {
  const eventStates = await deps.state.all();
  const { state: _state, ...alerting } = deps;
  await alertOnScan({ ...o, ...alerting, eventStates });
  const byAccount = new Map<string, Finding[]>();
  for (const f of o.findings) {
    const list = byAccount.get(idKey(f.resourceId)) ?? [];
    list.push(f);
    byAccount.set(idKey(f.resourceId), list);
  }
  const source = { kind: 'scan' as const, id: o.scan.scanId, at: o.scan.finishedAt };
  const written = await deps.state.syncFromScan(
    o.accounts.map((a) => stateOf(a, byAccount.get(idKey(a.id)) ?? [], source)),
    o.scan.startedAt,
  );
  deps.log(`state: ${written} account state(s) written`);
}
