import type { ScanDocument } from '../store/scanDocument.js';

/**
 * What a scan read, stated beside every verdict the product shows (the CLI summary, the HTML
 * headline, `report.json`, the webhook digest, the Functions log): accounts read, subscriptions
 * read of those in scope, and what could not be read. A compliance percentage is given only over
 * accounts that were read, never over nothing (DEVELOPERS.md: "Never a verdict, a headline or an
 * exit code on data that was not read").
 */
export interface CoverageSummary {
  readonly status: ScanDocument['status'];
  /** Subscriptions in scope, read and unreadable (counts). The accounts of an unreadable one are not counted anywhere. */
  readonly subscriptions: { readonly inScope: number; readonly read: number; readonly unreadable: number };
  /** Accounts read and evaluated (count). */
  readonly accountsRead: number;
  /** Resource Graph tables not fully read (count). */
  readonly tablesNotRead: number;
  /** Accounts whose perimeter configurations could not be read (count). */
  readonly deepReadsFailed: number;
  /** Unusable rows and failed rule evaluations (count). */
  readonly problems: number;
  /** The same in one line of words, e.g. "16 accounts read in 2 of 3 subscriptions; 1 subscription unreadable (its accounts are not counted)". */
  readonly text: string;
}

/** The compliance headline over what was read. */
export interface ComplianceHeadline {
  /** Compliant accounts ÷ accounts read × 100, one decimal; null when no account was read. */
  readonly percent: number | null;
  /** Accounts with no fail and no unknown (count). */
  readonly compliant: number;
  /** "87.5% compliant (14 of 16 accounts read)", "No accounts could be read", or "No AI accounts in scope". */
  readonly text: string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The coverage of a scan, from its `scan.json`. */
export function coverageOf(scan: ScanDocument): CoverageSummary {
  const subs = scan.coverage.subscriptions;
  const unreadable = subs.filter((s) => s.status === 'unreadable').length;
  const read = subs.length - unreadable;
  const tablesNotRead = scan.coverage.tables.filter((t) => t.status === 'failed').length;
  const deepReadsFailed = scan.coverage.deepInspection.failed;
  const problems = scan.coverage.problems.length;
  const accountsRead = scan.coverage.accounts;
  const gaps = [
    unreadable ? `${plural(unreadable, 'subscription')} unreadable (${unreadable === 1 ? 'its accounts are' : 'their accounts are'} not counted)` : '',
    tablesNotRead ? `${plural(tablesNotRead, 'table')} not fully read` : '',
    deepReadsFailed ? `perimeter configurations of ${plural(deepReadsFailed, 'account')} not read` : '',
    problems ? `${plural(problems, 'problem')} (see scan.json)` : '',
  ].filter(Boolean);
  const text = `${plural(accountsRead, 'account')} read in ${read} of ${plural(subs.length, 'subscription')} in scope${gaps.length ? `; ${gaps.join('; ')}` : ''}`;
  return { status: scan.status, subscriptions: { inScope: subs.length, read, unreadable }, accountsRead, tablesNotRead, deepReadsFailed, problems, text };
}

/**
 * The compliance headline: a percentage over the accounts read, or words when none was read.
 * @param compliant accounts with no fail and no unknown (count)
 */
export function complianceHeadline(coverage: CoverageSummary, compliant: number): ComplianceHeadline {
  const n = coverage.accountsRead;
  if (n === 0) {
    return {
      percent: null,
      compliant: 0,
      text: coverage.status === 'complete' ? 'No AI accounts in scope' : 'No accounts could be read',
    };
  }
  // Rounded down, so that 1,999 of 2,000 reads 99.9 %, never 100 %.
  const percent = Math.floor((compliant * 1000) / n) / 10;
  return { percent, compliant, text: `${percent}% compliant (${compliant} of ${plural(n, 'account')} read)` };
}

/**
 * The compliance headline of a scan from `scan.json` alone (its summary counts compliant accounts).
 * A scan written before those counts existed gets words without a percentage.
 */
export function scanHeadline(scan: ScanDocument): ComplianceHeadline {
  const coverage = coverageOf(scan);
  const compliant = scan.summary.accounts?.compliant;
  if (compliant === undefined && coverage.accountsRead > 0)
    return { percent: null, compliant: 0, text: `${plural(coverage.accountsRead, 'account')} read (compliance not recorded in this scan.json)` };
  return complianceHeadline(coverage, compliant ?? 0);
}

/** One line for logs: "scan {id} partial: 87.5% compliant (14 of 16 accounts read); coverage: …". */
export function scanOutcomeLine(scan: ScanDocument): string {
  return `scan ${scan.scanId} ${scan.status}: ${scanHeadline(scan).text}; coverage: ${coverageOf(scan).text}`;
}
