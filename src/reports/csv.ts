import { stringify } from 'csv-stringify/sync';
import type { Finding } from '../domain/rule.js';
import { type Artifact, type FindingSource, writeChunk } from '../store/artifact.js';

/**
 * `report.csv`: one row per finding, RFC 4180 (CRLF records, quoted as needed) by csv-stringify.
 *
 * Every cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so
 * a spreadsheet shows resource text instead of evaluating it as a formula
 * (OWASP, "CSV Injection": https://owasp.org/www-community/attacks/CSV_Injection).
 */

export const CSV_COLUMNS = [
  'subscriptionId',
  'resourceGroup',
  'accountName',
  'kind',
  'location',
  'ruleId',
  'severity',
  'outcome',
  'message',
  'tags',
  'resourceId',
  'evidence',
  'exemption',
] as const;

/** Neutralises a cell against formula injection. */
export function neutralizeCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

function cells(f: Finding): string[] {
  const tags = Object.entries(f.tags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
  const values: Record<(typeof CSV_COLUMNS)[number], string> = {
    subscriptionId: f.subscriptionId,
    resourceGroup: f.resourceGroup,
    accountName: f.accountName,
    kind: f.kind ?? '',
    location: f.location,
    ruleId: f.ruleId,
    severity: f.severity,
    outcome: f.outcome,
    message: f.message,
    tags,
    resourceId: f.resourceId,
    evidence: JSON.stringify(f.evidence ?? {}),
    exemption: f.exemption
      ? `${f.exemption.category}: ${f.exemption.name}${f.exemption.expiresOn ? ` (until ${f.exemption.expiresOn})` : ''}`
      : f.expiredExemption
        ? `expired: ${f.expiredExemption.name} (${f.expiredExemption.expiresOn})`
        : '',
  };
  return CSV_COLUMNS.map((c) => neutralizeCell(values[c]));
}

const OPTIONS = { record_delimiter: '\r\n', quoted_match: /[\s",;]/ } as const;

/** Streams the CSV of `source` into `out`. */
export async function writeCsv(source: FindingSource, out: import('node:stream').Writable): Promise<void> {
  await writeChunk(out, stringify([[...CSV_COLUMNS]], OPTIONS));
  let batch: string[][] = [];
  for await (const f of source()) {
    batch.push(cells(f));
    if (batch.length === 500) {
      await writeChunk(out, stringify(batch, OPTIONS));
      batch = [];
    }
  }
  if (batch.length > 0) await writeChunk(out, stringify(batch, OPTIONS));
}

export function csvArtifact(source: FindingSource): Artifact {
  return { name: 'report.csv', contentType: 'text/csv; charset=utf-8', write: (out) => writeCsv(source, out) };
}
