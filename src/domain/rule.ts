import type { Fact } from './observed.js';
import type { AccountSnapshot, TenantContext } from './snapshot.js';

/** The four outcomes of RULES.md, "Outcomes". Every (rule, account) pair yields exactly one. */
export type Outcome = 'pass' | 'fail' | 'not_applicable' | 'unknown';
export const OUTCOMES: readonly Outcome[] = ['pass', 'fail', 'not_applicable', 'unknown'];

export type Severity = 'high' | 'medium' | 'low';
export const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low'];

/** Rule parameters with the defaults of RULES.md, "Parameters". */
export interface RuleParameters {
  /** Account kinds that can join a network security perimeter. */
  readonly perimeterKinds: readonly string[];
  /** Largest number of addresses one IP rule or perimeter inbound prefix may cover (count). */
  readonly maxRuleAddresses: number;
  /** The `networkAcls.bypass` value NET-05 expects. */
  readonly expectedBypass: string;
  /** Role definition GUIDs that grant data access (lower-case). */
  readonly dataAccessRoleIds: readonly string[];
  /** Role definition GUIDs that are privileged (lower-case). */
  readonly privilegedRoleIds: readonly string[];
  /** NSP-07: the access-log window read (days, 1–90). */
  readonly readinessWindowDays: number;
  /** NSP-07: the shortest inbound prefix length a proposed access rule may use (bits, 16–32; 24 = at most a /24). */
  readonly readinessMinPrefixLength: number;
}

/** What a rule's `evaluate` sees besides the account. */
export interface RuleContext {
  readonly params: RuleParameters;
  readonly tenant: TenantContext;
}

/** The verdict of a rule that applies. `not_applicable` is decided by `appliesTo`, never here. */
export interface RuleVerdict {
  readonly outcome: 'pass' | 'fail' | 'unknown';
  /**
   * Stable machine-readable reason for the verdict, kebab-case, unique within the rule (e.g.
   * `perimeter-associations-unread`, `public-network-access-enabled`): what tests and tools match
   * on, as typescript-eslint's `messageId`, while `message` is free to improve.
   */
  readonly code: string;
  readonly message: string;
  /** Values the verdict rests on, for auditors. Must be JSON-serialisable. */
  readonly evidence?: Readonly<Record<string, unknown>>;
}

/** Compliance mappings (RULES.md, "Compliance mappings"). */
export interface RuleControls {
  /** Microsoft cloud security benchmark v1 control IDs, e.g. `NS-2`. */
  readonly mcsb: readonly string[];
  /** Azure Policy built-in definition GUIDs, where one exists. */
  readonly azurePolicy: readonly string[];
  /** CIS Microsoft Azure Foundations control numbers, where one applies. */
  readonly cis: readonly string[];
}

/**
 * One rule of the catalog: metadata and logic in one typed object (STYLE.md).
 * `appliesTo` decides `not_applicable` (known false) or `unknown` (depends on unread data);
 * `evaluate` runs only for accounts the rule applies to. The engine owns iteration and errors.
 */
export interface Rule {
  /** Stable opaque ID, e.g. `NSP-02`. Never renamed. */
  readonly id: string;
  /** Readable stable slug, e.g. `perimeter-enforced`. */
  readonly slug: string;
  /** Former IDs or slugs that still resolve to this rule. */
  readonly aliases: readonly string[];
  /** The compliant state, e.g. "Perimeter association is in Enforced access mode". */
  readonly title: string;
  readonly severity: Severity;
  readonly enabledByDefault: boolean;
  /** True when the rule needs per-account perimeter configurations (runs only with deep inspection). */
  readonly deepInspection: boolean;
  /** Which accounts the rule applies to, in words (RULES.md "applies to"). */
  readonly appliesToText: string;
  /** The risk the rule guards against. */
  readonly rationale: string;
  readonly remediation: { readonly description: string; readonly az: string; readonly bicep: string };
  /** learn.microsoft.com pages and `shared/reference/` documents the rule stands on. */
  readonly references: readonly string[];
  readonly controls: RuleControls;
  /** Anchors in other tools (RULES.md), for the comparison table. */
  readonly anchors: { readonly azurePolicy: string; readonly psrule: string; readonly azqr: string };
  appliesTo(account: AccountSnapshot, ctx: RuleContext): Fact;
  evaluate(account: AccountSnapshot, ctx: RuleContext): RuleVerdict;
}

/** The catalog entry of a rule, as written to `scan.json` and printed by `rules --json`. */
export type RuleCatalogEntry = Omit<Rule, 'appliesTo' | 'evaluate'>;

/** Identity function that types a rule definition (mirrors typescript-eslint's `createRule`). */
export function defineRule(rule: Rule): Rule {
  return rule;
}

/** Strips the logic from a rule, leaving its catalog entry. */
export function catalogEntry(rule: Rule): RuleCatalogEntry {
  const { appliesTo: _a, evaluate: _e, ...entry } = rule;
  return entry;
}

/** A finding as the engine evaluates it: its code is always set. */
export type EvaluatedFinding = Finding & { readonly code: string };

/**
 * One line of `findings.ndjson` (ARCHITECTURE.md, "Output files").
 */
export interface Finding {
  readonly ruleId: string;
  readonly resourceId: string;
  readonly outcome: Outcome;
  /**
   * The verdict's stable code (`RuleVerdict.code`, or the engine's own: see `ENGINE_CODES`). Set on
   * every finding the engine evaluates; absent on findings written before codes existed and on
   * those rebuilt from an account's stored state (outcome and message only).
   */
  readonly code?: string;
  readonly severity: Severity;
  readonly message: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly accountName: string;
  /** The account kind, or null when it could not be read. */
  readonly kind: string | null;
  readonly location: string;
  /** The account's tags (resource-controlled text: escape before display). */
  readonly tags: Readonly<Record<string, string>>;
  readonly evidence: Readonly<Record<string, unknown>>;
  /** The policy exemption that covers this finding; its outcome stays the real one. */
  readonly exemption?: {
    readonly name: string;
    readonly category: 'Waiver' | 'Mitigated';
    readonly justification: string;
    readonly expiresOn?: string;
  };
  /** An exemption that would cover this finding but has expired, so it no longer applies. */
  readonly expiredExemption?: { readonly name: string; readonly expiresOn: string };
}
