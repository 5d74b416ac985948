import type { DispatchOptions } from '../alerts/dispatch.js';
import type { AlertLedger } from '../alerts/ledger.js';
import { alertOnScan } from '../alerts/scanAlerts.js';
import type { ProgressLog } from '../collect/collector.js';
import type { WebhookConfig } from '../config/alerts.js';
import type { FindingSource } from '../store/artifact.js';
import type { ScanDocument } from '../store/scanDocument.js';
import type { StoredScan } from '../store/stores.js';
import type { AccountState, StateStore } from '../store/accountState.js';

/**
 * What follows a committed scan in the Function App: alerts against the last known state (the
 * previous scan, updated by newer change events), then the accounts' states for later events.
 */
export async function afterScanCommit(
  o: { scan: ScanDocument; previous: StoredScan | undefined; current: FindingSource; states: () => AsyncIterable<AccountState> },
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
  const written = await deps.state.syncFromScan(o.states());
  deps.log(`state: ${written} account state(s) written`);
}
