/**
 * The Storage queue on which on-demand scans are requested (connection: AzureWebJobsStorage). Its own
 * module, free of side effects, so that tools (the infra drift check) can read it without loading the
 * Functions composition root. The fan-out queues are in src/shards.ts.
 */
export const SCAN_QUEUE = 'scan-requests';
