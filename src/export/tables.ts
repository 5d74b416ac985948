import type { Finding } from '../domain/rule.js';
import { coverageOf, scanHeadline } from '../reports/coverage.js';
import type { ScanDocument } from '../store/scanDocument.js';

/**
 * The Log Analytics tables the auditor exports to (issue: findings where security teams look), the one
 * definition of their columns: the code's rows are built from it, infra/ declares the custom tables
 * and the data collection rule's streams from the same names and types (the drift check compares them
 * column by column), the simulator validates every row against it, and the shipped KQL (workbook,
 * Sentinel rule) is checked against it by Microsoft's parser. Column types are those of Log Analytics
 * custom tables and DCR stream declarations (AZURE-FACTS.md, "Logs Ingestion API").
 */

/** A column type of a Log Analytics custom table / DCR stream declaration. */
export type ColumnType = 'string' | 'int' | 'long' | 'real' | 'boolean' | 'datetime' | 'dynamic';

/** One column: its name and type. */
export interface Column {
  readonly name: string;
  readonly type: ColumnType;
}

/** A custom table with the DCR stream that feeds it. */
export interface ExportTable {
  /** `{Name}_CL`. */
  readonly table: string;
  /** `Custom-{Name}`: the stream declared in the data collection rule and named in the upload. */
  readonly stream: string;
  readonly columns: readonly Column[];
}

/** One row per finding (of a scan or of a change evaluation). */
export const FINDINGS_TABLE = {
  table: 'PerimeterAuditorFindings_CL',
  stream: 'Custom-PerimeterAuditorFindings',
  columns: [
    { name: 'TimeGenerated', type: 'datetime' },
    { name: 'ScanId', type: 'string' },
    { name: 'RuleId', type: 'string' },
    { name: 'Outcome', type: 'string' },
    { name: 'Severity', type: 'string' },
    { name: 'ResourceId', type: 'string' },
    { name: 'SubscriptionId', type: 'string' },
    { name: 'ResourceGroup', type: 'string' },
    { name: 'AccountName', type: 'string' },
    { name: 'Kind', type: 'string' },
    { name: 'Location', type: 'string' },
    { name: 'Message', type: 'string' },
    { name: 'Exempted', type: 'boolean' },
    { name: 'Controls', type: 'dynamic' },
    { name: 'Source', type: 'string' },
  ],
} as const satisfies ExportTable;

/** One row per committed scan: its status, coverage and counts. */
export const SCANS_TABLE = {
  table: 'PerimeterAuditorScans_CL',
  stream: 'Custom-PerimeterAuditorScans',
  columns: [
    { name: 'TimeGenerated', type: 'datetime' },
    { name: 'ScanId', type: 'string' },
    { name: 'Status', type: 'string' },
    { name: 'StartedAt', type: 'datetime' },
    { name: 'Accounts', type: 'long' },
    { name: 'CompliantAccounts', type: 'long' },
    { name: 'CompliantPercent', type: 'real' },
    { name: 'SubscriptionsInScope', type: 'long' },
    { name: 'SubscriptionsRead', type: 'long' },
    { name: 'Coverage', type: 'string' },
    { name: 'Pass', type: 'long' },
    { name: 'Fail', type: 'long' },
    { name: 'Unknown', type: 'long' },
    { name: 'NotApplicable', type: 'long' },
    { name: 'FailHigh', type: 'long' },
    { name: 'FailMedium', type: 'long' },
    { name: 'FailLow', type: 'long' },
    { name: 'ExemptedFails', type: 'long' },
  ],
} as const satisfies ExportTable;

/** Both tables, in the order infra/ declares them. */
export const EXPORT_TABLES: readonly ExportTable[] = [FINDINGS_TABLE, SCANS_TABLE];

type ValueOf<T extends ColumnType> = T extends 'string' ? string
  : T extends 'int' | 'long' | 'real' ? number | null
    : T extends 'boolean' ? boolean
      : T extends 'datetime' ? string
        : unknown;

/** A row of a table: column name → value (datetimes as ISO 8601 text). */
export type RowOf<T extends ExportTable> = { [C in T['columns'][number] as C['name']]: ValueOf<C['type']> };

export type FindingRow = RowOf<typeof FINDINGS_TABLE>;
export type ScanRow = RowOf<typeof SCANS_TABLE>;

/**
 * A finding as a row of `PerimeterAuditorFindings_CL`.
 * @param o.scanId the scan, or for a change evaluation the event's ID (rows of one source share it, so queries can de-duplicate)
 * @param o.at the row's `TimeGenerated` (ISO 8601): the scan's `finishedAt`, or the evaluation's time
 */
export function findingRow(f: Finding, o: { scanId: string; at: string; source: 'scan' | 'event'; controls?: Readonly<Record<string, readonly string[]>> }): FindingRow {
  return {
    TimeGenerated: o.at,
    ScanId: o.scanId,
    RuleId: f.ruleId,
    Outcome: f.outcome,
    Severity: f.severity,
    ResourceId: f.resourceId,
    SubscriptionId: f.subscriptionId,
    ResourceGroup: f.resourceGroup,
    AccountName: f.accountName,
    Kind: f.kind ?? '',
    Location: f.location,
    Message: f.message,
    Exempted: f.exemption !== undefined,
    Controls: o.controls ?? {},
    Source: o.source,
  };
}

/** A committed scan as a row of `PerimeterAuditorScans_CL` (the same coverage and headline as every summary). */
export function scanRow(scan: ScanDocument): ScanRow {
  const coverage = coverageOf(scan);
  const headline = scanHeadline(scan);
  const s = scan.summary;
  const ex = s.exempted?.failsBySeverity ?? { high: 0, medium: 0, low: 0 };
  return {
    TimeGenerated: scan.finishedAt,
    ScanId: scan.scanId,
    Status: scan.status,
    StartedAt: scan.startedAt,
    Accounts: coverage.accountsRead,
    CompliantAccounts: headline.compliant,
    CompliantPercent: headline.percent,
    SubscriptionsInScope: coverage.subscriptions.inScope,
    SubscriptionsRead: coverage.subscriptions.read,
    Coverage: coverage.text,
    Pass: s.byOutcome.pass,
    Fail: s.byOutcome.fail,
    Unknown: s.byOutcome.unknown,
    NotApplicable: s.byOutcome.not_applicable,
    FailHigh: s.bySeverity.high.fail - ex.high,
    FailMedium: s.bySeverity.medium.fail - ex.medium,
    FailLow: s.bySeverity.low.fail - ex.low,
    ExemptedFails: ex.high + ex.medium + ex.low,
  };
}
