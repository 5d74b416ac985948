import { randomBytes } from 'node:crypto';
import type { SubscriptionCoverage } from '../collect/inventory.js';
import type { RuleCatalogEntry } from '../domain/rule.js';
import type { ScanSummary } from '../engine/summary.js';

/** `scan.json` (ARCHITECTURE.md, "Output files"), schema version 1. */
export interface ScanDocument {
  readonly schemaVersion: 1;
  readonly scanId: string;
  /** ISO 8601 UTC. */
  readonly startedAt: string;
  readonly finishedAt: string;
  /** `partial` when anything in scope could not be read (see `coverage`). */
  readonly status: 'complete' | 'partial';
  readonly scope: {
    readonly subscriptions: readonly string[];
    readonly managementGroups: readonly string[];
    readonly deepInspection: boolean;
    /** Resource groups the policy limits the scan to, when it does. */
    readonly resourceGroups?: readonly string[];
    /** What the policy excludes, when it does. */
    readonly excluded?: { readonly managementGroups: readonly string[]; readonly subscriptions: readonly string[]; readonly resourceGroups: readonly string[] };
  };
  readonly coverage: {
    readonly subscriptions: readonly SubscriptionCoverage[];
    /** Accounts evaluated (count). */
    readonly accounts: number;
    /** Each Resource Graph table/type read, with its row count and failure if any. */
    readonly tables: ReadonlyArray<{
      readonly type: string;
      readonly rows: number;
      readonly status: 'read' | 'failed';
      readonly reason?: string;
    }>;
    /** Accounts whose perimeter configurations were read (deep inspection), and failures (counts). */
    readonly deepInspection: { readonly accounts: number; readonly failed: number };
    /** Rows or values that could not be used, in words. */
    readonly problems: readonly string[];
  };
  /** Catalog entries of the rules that ran. */
  readonly rules: readonly RuleCatalogEntry[];
  readonly summary: ScanSummary;
  /** Figures of the run (counts and ms). */
  readonly stats: {
    readonly durationMs: number;
    readonly resourceGraphPages: number;
    readonly resourceGraphRequests: number;
    readonly armRequests: number;
    readonly throttledResponses: number;
    /**
     * The query plan: per Resource Graph table (the subscription listing included), the rows read,
     * the pages (requests) it took, and the least pages those rows need — Σ over subscription
     * batches of max(1, ⌈rows ÷ 1000⌉) (AZURE-FACTS.md: 1000 rows a page). Pages above the least
     * are slack: retries, or batches split after a refusal.
     */
    readonly queryPlan?: ReadonlyArray<{ readonly type: string; readonly rows: number; readonly pages: number; readonly leastPages: number }>;
  };
}

/** `latest.json`: the commit point of the Blob layout, written last. */
export interface LatestPointer {
  readonly scanId: string;
  readonly finishedAt: string;
}

const SCAN_ID = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-[a-z0-9]{6}$/;

/** A scan ID that sorts by time: `2026-11-21T03-00-00Z-<6 random chars>` (ARCHITECTURE.md). */
export function newScanId(at: Date, random: () => Buffer = () => randomBytes(6)): string {
  const stamp = at.toISOString().slice(0, 19).replace(/:/g, '-');
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const suffix = [...random()]
    .map((b) => alphabet[b % alphabet.length])
    .join('')
    .slice(0, 6);
  return `${stamp}Z-${suffix}`;
}

/** True when `id` has the scan ID form (so it is safe to use in a blob path). */
export function isScanId(id: string): boolean {
  return SCAN_ID.test(id);
}
