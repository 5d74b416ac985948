import { z } from 'zod';
import type { Severity } from '../domain/rule.js';
import { isScanId, type ScanDocument } from '../store/scanDocument.js';
import { type CoverageSummary, coverageOf, scanHeadline } from './coverage.js';

/**
 * The trend (issue 19): compliance and fails by severity over the last committed scans, built from
 * each scan's `scan.json` alone — its `summary` and its coverage (coverage.ts `scanHeadline`,
 * `coverageOf`), never from findings — so it needs no Log Analytics and reads one small document per
 * scan. The HTML report draws it (html.ts) and `GET /api/scans/trend` serves it (api/scansApi.ts);
 * both call `trendOf`, the one series builder.
 */

/** Scans a trend holds at most (count): the HTML page's and the API's default and maximum. */
export const TREND_LIMIT = 30;

/** One committed scan in the trend. Counts are whole numbers; times ISO 8601 UTC as in scan.json. */
export interface TrendPoint {
  readonly scanId: string;
  readonly finishedAt: string;
  /** `partial` when the scan could not read everything in scope: its figures are over what it read (`coverage`). */
  readonly status: ScanDocument['status'];
  /**
   * Compliant accounts ÷ accounts read × 100, one decimal, rounded down (coverage.ts); null when no
   * account was read, or the scan.json predates the compliant count — never a percentage over nothing.
   */
  readonly compliantPercent: number | null;
  /** The compliance headline in words, e.g. "87.5% compliant (14 of 16 accounts read)" or "No accounts could be read". */
  readonly headline: string;
  /** Accounts read and evaluated (count). */
  readonly accountsRead: number;
  /** Fails by severity (counts of findings), exempted fails excluded: what the scan's cards and `--fail-on` count. */
  readonly fails: Readonly<Record<Severity, number>>;
  /** Findings whose data could not be read (count). */
  readonly unknowns: number;
  /** What the scan read (coverage.ts): subscriptions in scope, read and unreadable, and the gaps, with the same in words. */
  readonly coverage: Omit<CoverageSummary, 'status' | 'accountsRead'>;
}

/** A trend point, or a scan to make one of (`trendOf` takes either). */
export type TrendSource = ScanDocument | TrendPoint;

const isScan = (s: TrendSource): s is ScanDocument => 'schemaVersion' in s;

/** The trend point of one scan, from its `scan.json` (summary and coverage only). */
export function trendPoint(scan: ScanDocument): TrendPoint {
  const coverage = coverageOf(scan);
  const headline = scanHeadline(scan);
  const exempted = scan.summary.exempted?.failsBySeverity;
  const fails = (s: Severity) => scan.summary.bySeverity[s].fail - (exempted?.[s] ?? 0);
  return {
    scanId: scan.scanId,
    finishedAt: scan.finishedAt,
    status: scan.status,
    compliantPercent: headline.percent,
    headline: headline.text,
    accountsRead: coverage.accountsRead,
    fails: { high: fails('high'), medium: fails('medium'), low: fails('low') },
    unknowns: scan.summary.byOutcome.unknown,
    coverage: {
      subscriptions: coverage.subscriptions,
      tablesNotRead: coverage.tablesNotRead,
      deepReadsFailed: coverage.deepReadsFailed,
      problems: coverage.problems,
      text: coverage.text,
    },
  };
}

/**
 * The series builder: the trend of `scans` (committed scans' documents, or points already made of
 * them — a store's history — in any order), oldest first by scanId (scan IDs sort by time), each
 * scan once (a later entry of the same scanId replaces an earlier one), the newest `limit` kept.
 * @param limit scans kept (count, ≥ 1); default `TREND_LIMIT`
 */
export function trendOf(scans: readonly TrendSource[], limit: number = TREND_LIMIT): TrendPoint[] {
  const byId = new Map<string, TrendPoint>();
  for (const s of scans) byId.set(s.scanId, isScan(s) ? trendPoint(s) : s);
  const points = [...byId.values()].sort((a, b) => (a.scanId < b.scanId ? -1 : a.scanId > b.scanId ? 1 : 0));
  return points.slice(Math.max(0, points.length - Math.max(1, limit)));
}

const count = z.number().int().nonnegative();

/** The shape of a stored trend point (a directory's `history.json`): what `parseTrendPoint` accepts. */
const TREND_POINT = z.object({
  scanId: z.string().refine(isScanId),
  finishedAt: z.string(),
  status: z.enum(['complete', 'partial']),
  compliantPercent: z.number().min(0).max(100).nullable(),
  headline: z.string(),
  accountsRead: count,
  fails: z.object({ high: count, medium: count, low: count }),
  unknowns: count,
  coverage: z.object({
    subscriptions: z.object({ inScope: count, read: count, unreadable: count }),
    tablesNotRead: count,
    deepReadsFailed: count,
    problems: count,
    text: z.string(),
  }),
});

/**
 * A stored trend point, checked (a history file is read back from disk and may have been edited).
 * @returns the point, or undefined when `value` is not one
 */
export function parseTrendPoint(value: unknown): TrendPoint | undefined {
  const parsed = TREND_POINT.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
