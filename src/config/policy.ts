import { readFile } from 'node:fs/promises';
import { isAlias, LineCounter, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { ManagementGroupIdSchema, SubscriptionIdSchema } from './scopeIds.js';
import { SEVERITIES, type RuleParameters, type Severity } from '../domain/rule.js';
import { RULES } from '../rules/index.js';

/**
 * The policy: what to scan, which rules run at which severity with which parameters, and which
 * findings are exempted. One schema (zod) for a YAML or JSON file, a setting, or a blob; every error
 * names the source, the field and its line.
 *
 * Exemptions are modelled on Azure Policy exemptions
 * (https://learn.microsoft.com/azure/governance/policy/concepts/exemption-structure): a category
 * (`Waiver` or `Mitigated`), a justification, an optional `expiresOn`, and a target (resource,
 * resource group or subscription). Tag selectors are accepted only when the policy sets
 * `allowTagExemptions: true`, because an account's owner controls its tags.
 */

/** RULES.md, "Parameters": the defaults. */
export const DEFAULT_PARAMETERS: RuleParameters = {
  perimeterKinds: ['OpenAI', 'AIServices'],
  maxRuleAddresses: 65536,
  expectedBypass: 'AzureServices',
  dataAccessRoleIds: [
    '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
    'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    '1407120a-92aa-4202-b7e9-c0e197c71c8f',
    '8ebe5a00-799e-43f5-93ac-243d3dce84a7',
  ],
  privilegedRoleIds: [
    '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    'b24988ac-6180-42a0-ab88-20f7382dd24c',
    '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
    'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
  ],
  readinessWindowDays: 14,
  readinessMinPrefixLength: 24,
};

/** Management groups, subscriptions and resource groups (resource group IDs). */
export interface ScopeList {
  readonly managementGroups: readonly string[];
  readonly subscriptions: readonly string[];
  readonly resourceGroups: readonly string[];
}

/** Exactly one of the target kinds. */
export type ExemptionTarget
  = | { readonly resourceId: string }
    | { readonly resourceGroup: string }
    | { readonly subscription: string }
    | { readonly tags: Readonly<Record<string, string>> };

export interface Exemption {
  readonly name: string;
  /** Rule IDs (canonical), or `all`. */
  readonly rules: 'all' | readonly string[];
  readonly target: ExemptionTarget;
  readonly category: 'Waiver' | 'Mitigated';
  readonly justification: string;
  /** ISO 8601; a date alone means the end of that day (UTC). */
  readonly expiresOn?: string;
}

/** The effective policy. */
export interface Policy {
  readonly parameters: RuleParameters;
  /**
   * Whether scans read per-account perimeter configurations (NSP-05, NSP-06) when neither the CLI
   * (`--no-deep`) nor the settings (`DEEP_INSPECTION`) say: a scan option, not a rule parameter
   * (the file keeps it under `parameters` for compatibility). Default true.
   */
  readonly deepInspection: boolean;
  readonly enabledRules: ReadonlySet<string>;
  /** Rule ID → severity, where the policy overrides the catalog. */
  readonly severities: ReadonlyMap<string, Severity>;
  readonly scope: { readonly include: ScopeList; readonly exclude: ScopeList };
  readonly allowTagExemptions: boolean;
  readonly exemptions: readonly Exemption[];
}

const guid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'a GUID');
const subscriptionId = z.string().regex(/^(\/subscriptions\/)?[0-9a-fA-F-]{36}$/i, 'a subscription ID');
const resourceGroupId = z.string().regex(/^\/subscriptions\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/resourceGroups\/[-\w._()]{1,90}$/i, 'a resource group ID (/subscriptions/{guid}/resourceGroups/{name})');
/**
 * True when `value` is an ISO 8601 date (`2026-12-31`) or date-time whose calendar date exists:
 * `Date.parse` alone rolls `2026-02-30` over to March 2, so the day is checked against its month.
 */
export function isCalendarDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})(T.+)?$/.exec(value);
  if (!m || Number.isNaN(Date.parse(value))) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Day 0 of the next month is the last day of this one (UTC, so no time zone moves it).
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const date = z.string().refine(isCalendarDate, 'an ISO 8601 date that exists (2026-12-31) or date-time');

const ScopeListSchema = z
  .object({ managementGroups: z.array(ManagementGroupIdSchema), subscriptions: z.array(SubscriptionIdSchema), resourceGroups: z.array(resourceGroupId) })
  .partial()
  .strict();

const TargetSchema = z
  .object({
    resourceId: z.string().regex(/^\/subscriptions\/.+\/providers\/.+/i, 'a resource ID'),
    resourceGroup: resourceGroupId,
    subscription: subscriptionId,
    tags: z.record(z.string().min(1), z.string()).refine((t) => Object.keys(t).length > 0, 'at least one tag'),
  })
  .partial()
  .strict()
  .refine((t) => Object.keys(t).length === 1, 'exactly one of resourceId, resourceGroup, subscription, tags');

/** The policy file schema. Every field is optional; unknown fields are errors, so a typo never silently keeps a default. */
export const PolicyFileSchema = z
  .object({
    version: z.literal(1),
    scope: z.object({ include: ScopeListSchema, exclude: ScopeListSchema }).partial().strict(),
    rules: z.record(z.string(), z.object({ enabled: z.boolean(), severity: z.enum(SEVERITIES as [Severity, ...Severity[]]) }).partial().strict()),
    parameters: z
      .object({
        perimeterKinds: z.array(z.string().min(1)).min(1),
        maxRuleAddresses: z.number().int().positive(),
        expectedBypass: z.enum(['AzureServices', 'None']),
        dataAccessRoleIds: z.array(guid),
        privilegedRoleIds: z.array(guid),
        readinessWindowDays: z.number().int().min(1).max(90),
        readinessMinPrefixLength: z.number().int().min(16).max(32),
        deepInspection: z.boolean(),
      })
      .partial()
      .strict(),
    allowTagExemptions: z.boolean(),
    exemptions: z.array(
      z
        .object({
          name: z.string().min(1).max(100),
          rules: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]),
          target: TargetSchema,
          category: z.enum(['Waiver', 'Mitigated']),
          justification: z.string().min(10, 'a justification of at least 10 characters'),
          expiresOn: date,
        })
        .partial({ expiresOn: true })
        .strict(),
    ),
  })
  .partial()
  .strict();

export type PolicyFile = z.infer<typeof PolicyFileSchema>;

const EMPTY_SCOPE: ScopeList = { managementGroups: [], subscriptions: [], resourceGroups: [] };

/** The default policy: default parameters, every rule that is on by default, no scope limits, no exemptions. */
export function defaultPolicy(): Policy {
  return {
    parameters: DEFAULT_PARAMETERS,
    deepInspection: true,
    enabledRules: new Set(RULES.filter((r) => r.enabledByDefault).map((r) => r.id)),
    severities: new Map(),
    scope: { include: EMPTY_SCOPE, exclude: EMPTY_SCOPE },
    allowTagExemptions: false,
    exemptions: [],
  };
}

/** Thrown for a policy that does not validate; the message names the source, the field and its line. */
export class PolicyError extends Error {}

/** Finds a rule by ID or slug (case-insensitive). */
function ruleIdOf(key: string): string | undefined {
  return RULES.find((r) => r.id.toLowerCase() === key.toLowerCase() || r.slug === key.toLowerCase())?.id;
}

function scopeList(l: z.infer<typeof ScopeListSchema> | undefined): ScopeList {
  return { managementGroups: l?.managementGroups ?? [], subscriptions: l?.subscriptions ?? [], resourceGroups: l?.resourceGroups ?? [] };
}

/**
 * Builds the effective policy from a parsed document.
 * @param where maps a field path to " (line N)", for messages
 * @throws PolicyError naming `source`, the field and (when known) the line
 */
export function policyFrom(document: unknown, source: string, where: (path: PropertyKey[]) => string = () => ''): Policy {
  const parsed = PolicyFileSchema.safeParse(document ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const path = i.path.length ? i.path.join('.') : '(root)';
      const keys = 'keys' in i && Array.isArray(i.keys) && i.keys.length ? ` ${i.keys.join(', ')}` : '';
      return `${path}${where(i.path)}: ${i.message}${keys && !i.message.includes(String(keys.trim())) ? `:${keys}` : ''}`;
    });
    throw new PolicyError(`${source}: ${issues.join('; ')}`);
  }
  const p = parsed.data;
  const errors: string[] = [];
  const base = defaultPolicy();
  const enabled = new Set(base.enabledRules);
  const severities = new Map<string, Severity>();
  for (const [key, value] of Object.entries(p.rules ?? {})) {
    const id = ruleIdOf(key);
    if (!id) {
      errors.push(`rules.${key}${where(['rules', key])}: no such rule`);
      continue;
    }
    if (value.enabled === true) enabled.add(id);
    if (value.enabled === false) enabled.delete(id);
    if (value.severity) severities.set(id, value.severity);
  }
  const names = new Set<string>();
  const exemptions: Exemption[] = [];
  for (const [i, e] of (p.exemptions ?? []).entries()) {
    if (names.has(e.name)) errors.push(`exemptions.${i}.name${where(['exemptions', i, 'name'])}: the name ${e.name} is used twice`);
    names.add(e.name);
    let rules: 'all' | string[] = 'all';
    if (e.rules !== 'all' && e.rules !== undefined) {
      rules = [];
      for (const [j, r] of e.rules.entries()) {
        const id = ruleIdOf(r);
        if (id) rules.push(id);
        else errors.push(`exemptions.${i}.rules.${j}${where(['exemptions', i, 'rules', j])}: no such rule ${r}`);
      }
    }
    if (e.target?.tags && !p.allowTagExemptions) {
      errors.push(`exemptions.${i}.target.tags${where(['exemptions', i, 'target', 'tags'])}: tag-based exemptions are refused unless allowTagExemptions is true (an account's owner controls its tags)`);
    }
    exemptions.push({
      name: e.name ?? '',
      rules,
      target: e.target as ExemptionTarget,
      category: e.category ?? 'Waiver',
      justification: e.justification ?? '',
      ...(e.expiresOn ? { expiresOn: e.expiresOn } : {}),
    });
  }
  if (enabled.size === 0) errors.push(`rules${where(['rules'])}: every rule is disabled, so a scan would judge nothing`);
  if (errors.length) throw new PolicyError(`${source}: ${errors.join('; ')}`);
  const { deepInspection, ...params } = p.parameters ?? {};
  const lower = (ids: string[] | undefined) => ids?.map((id) => id.toLowerCase());
  return {
    deepInspection: deepInspection ?? true,
    parameters: {
      ...DEFAULT_PARAMETERS,
      ...params,
      ...(params.dataAccessRoleIds ? { dataAccessRoleIds: lower(params.dataAccessRoleIds) ?? [] } : {}),
      ...(params.privilegedRoleIds ? { privilegedRoleIds: lower(params.privilegedRoleIds) ?? [] } : {}),
    },
    enabledRules: enabled,
    severities,
    scope: { include: scopeList(p.scope?.include), exclude: scopeList(p.scope?.exclude) },
    allowTagExemptions: p.allowTagExemptions ?? false,
    exemptions,
  };
}

/**
 * Parses policy text (YAML or JSON: JSON is YAML 1.2) and builds the effective policy.
 * @throws PolicyError naming `source`, the field and its line
 */
export function parsePolicyText(text: string, source: string): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e ? lineCounter.linePos(e.pos[0]) : undefined;
    throw new PolicyError(`${source}${pos ? ` line ${pos.line}` : ''}: not valid YAML or JSON (${e?.code ?? 'error'})`);
  }
  const where = (path: PropertyKey[]): string => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return ` (line ${lineCounter.linePos(node.range[0]).line})`;
    }
    return '';
  };
  let value: unknown;
  try {
    // The yaml library's own guard against alias expansion ("billion laughs"); its error names no file.
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    let line: number | undefined;
    visit(doc, {
      Alias(_key, node) {
        if (isAlias(node) && node.range) line = lineCounter.linePos(node.range[0]).line;
        return visit.BREAK;
      },
    });
    throw new PolicyError(
      `${source}${line === undefined ? '' : ` line ${line}`}: YAML aliases (*name) expand to too many nodes (${(error as Error).message}); a policy needs no aliases, write the values out`,
    );
  }
  return policyFrom(value, source, where);
}

/** The most alias expansions a policy document may make (the yaml library's default, 100, stated). */
const MAX_ALIAS_COUNT = 100;

/**
 * Reads and validates a policy file (YAML or JSON).
 * @throws PolicyError when the file cannot be read or does not validate
 */
export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PolicyError(`${path}: cannot read the policy file (${(error as Error).message})`);
  }
  return parsePolicyText(text, path);
}

/** The effective policy as a plain document (for `policy show`): every default written out. */
export function describePolicy(p: Policy): Record<string, unknown> {
  return {
    version: 1,
    scope: p.scope,
    rules: Object.fromEntries(RULES.map((r) => [r.id, { enabled: p.enabledRules.has(r.id), severity: p.severities.get(r.id) ?? r.severity }])),
    parameters: { ...p.parameters, deepInspection: p.deepInspection },
    allowTagExemptions: p.allowTagExemptions,
    exemptions: p.exemptions,
  };
}
