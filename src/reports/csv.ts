import Papa from 'papaparse';
import { catalogEntry, type Finding, type RuleCatalogEntry } from '../domain/rule.js';
import { RULES } from '../rules/index.js';
import { remediationFor } from './remediation.js';

/**
 * `report.csv`: one row per finding, RFC 4180 (CRLF records, quoted as needed) by Papa Parse's
 * `unparse` (https://www.papaparse.com/docs#json-to-csv): a cell is quoted when it holds white
 * space, `"`, `,` or `;` (and, by Papa Parse itself, a byte-order mark), its quotes doubled.
 *
 * Every cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so
 * a spreadsheet shows resource text instead of evaluating it as a formula
 * (OWASP, "CSV Injection": https://owasp.org/www-community/attacks/CSV_Injection).
 *
 * `remediation` is the rule's `az` command with the account's names filled in (reports/remediation.ts)
 * for a `fail`, one command per line when the finding names several targets; empty otherwise.
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
  'remediation',
] as const;

/** Neutralises a cell against formula injection. */
export function neutralizeCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** Rule catalog entries by ID: what the remediation column is filled from. */
type RuleIndex = ReadonlyMap<string, Pick<RuleCatalogEntry, 'id' | 'remediation'>>;

function cells(f: Finding, rules: RuleIndex): string[] {
  const rule = f.outcome === 'fail' ? rules.get(f.ruleId) : undefined;
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
    remediation: rule ? remediationFor(f, rule).az : '',
  };
  return CSV_COLUMNS.map((c) => neutralizeCell(values[c]));
}

/** A cell that a spreadsheet could split or trim: quoted. */
const NEEDS_QUOTES = /[\s",;]/;

/**
 * Rows as CSV text, each ending in CRLF. Papa Parse rather than csv-stringify: the same bytes at
 * about half the CPU (85,000 findings' rows turned into text on this machine, a one-off timing: 360 ms against 770 ms),
 * and the CSV is the largest part of the report pass (README, Performance).
 */
function csvText(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  return `${Papa.unparse(rows as string[][], { newline: '\r\n', header: false, quotes: (value: unknown) => NEEDS_QUOTES.test(String(value)) })}\r\n`;
}

/** Rows stringified together (count): a call's cost is mostly per call. */
const BATCH = 500;

/**
 * The CSV of findings fed one at a time (reports/writer.ts): the header row first, then one row
 * per finding in the order added. Holds at most `BATCH` rows before they become text.
 */
export class CsvRows {
  private batch: string[][] = [];
  private readonly rules: RuleIndex;

  /** @param rules the scan's rule catalog (`scan.rules`); by default this version's catalog */
  constructor(rules: readonly Pick<RuleCatalogEntry, 'id' | 'remediation'>[] = RULES.map(catalogEntry)) {
    this.rules = new Map(rules.map((r) => [r.id, r]));
  }

  private ready = csvText([[...CSV_COLUMNS]]);

  /** Adds the finding's row. */
  add(f: Finding): void {
    this.batch.push(cells(f, this.rules));
    if (this.batch.length === BATCH) this.stringifyBatch();
  }

  /** The CSV text ready since the last call ('' when none); `last`: also the rows of an unfinished batch. */
  take(last = false): string {
    if (last) this.stringifyBatch();
    const text = this.ready;
    this.ready = '';
    return text;
  }

  private stringifyBatch(): void {
    this.ready += csvText(this.batch);
    this.batch = [];
  }
}
