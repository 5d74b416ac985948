import { addressCount } from '../domain/addresses.js';
import type { Finding, RuleCatalogEntry } from '../domain/rule.js';
import { ipRuleOffences } from '../rules/net-03-network-rules-valid.js';

/**
 * A rule's remediation (`az` command and Bicep) with the finding's own names filled in, for the
 * HTML report and the CSV (`remediationFor`, the one implementation).
 *
 * The rules' templates name what varies as `<placeholder>`s (`<rg>`, `<account>`, `<perimeter>`…:
 * `PLACEHOLDERS`). The account's placeholders come from the finding; the perimeter's, the profile's,
 * the access rule's, the association's and the like from the finding's evidence, where the rule
 * records them (`TARGETS`). A placeholder that cannot be filled stays as it is, visible, and is
 * listed in `unfilled`.
 *
 * The values are resource names and IDs from Azure, which whoever owns a resource chooses, so they
 * are filled in safely for where they land:
 * - in the `az` command, a value of `[-\w./]` only goes in as it is; any other is single-quoted (in
 *   a double-quoted part of the template, the double quotes are closed around it), so the shell
 *   reads it as one literal word. A value with a control, bidirectional or invisible character (it
 *   would read differently than it runs) or one that starts with `-` (read as an option) is not
 *   filled in;
 * - in Bicep, as the body of a single-quoted Bicep string: `\`, `'` and `${` are escaped, and
 *   control, bidirectional and invisible characters become `\u{…}` escapes.
 * HTML escaping is the page's job (reports/html.ts), formula neutralisation the CSV's (reports/csv.ts).
 */

/** A rule's remediation for one finding. */
export interface FilledRemediation {
  readonly description: string;
  /** The `az` command(s), one per line when the finding names several targets (offending rules, pending connections…). */
  readonly az: string;
  /** The Bicep snippet, for the first target. */
  readonly bicep: string;
  /** The placeholders left in `az` or `bicep` (without brackets), in order of first appearance. */
  readonly unfilled: readonly string[];
}

/** Every placeholder the rules' templates use, and where its value comes from (the README lists the same). */
export const PLACEHOLDERS: Readonly<Record<string, string>> = {
  subscription: 'the account\'s subscription ID',
  rg: 'the account\'s resource group',
  account: 'the account\'s name',
  'account-resource-id': 'the account\'s resource ID',
  location: 'the account\'s location',
  kind: 'the account\'s kind',
  'custom-subdomain': 'the account\'s custom subdomain (not in findings)',
  perimeter: 'the perimeter\'s name (evidence)',
  'perimeter-rg': 'the perimeter\'s resource group (evidence)',
  'perimeter-subscription': 'the perimeter\'s subscription ID (evidence)',
  'perimeter-resource-id': 'the perimeter\'s resource ID (evidence)',
  profile: 'the perimeter profile\'s name (evidence)',
  'profile-resource-id': 'the perimeter profile\'s resource ID (evidence)',
  association: 'the perimeter association\'s name (evidence)',
  rule: 'the perimeter access rule\'s name (evidence)',
  'access-mode': 'the association\'s access mode (not in findings)',
  'configuration-name': 'the perimeter configuration\'s name (evidence)',
  'offending-rule': 'the IP rule the service does not accept (evidence)',
  'wide-range': 'the too-wide IP rule (evidence)',
  'connection-resource-id': 'the pending private endpoint connection (evidence)',
  'role-assignment-id': 'the excessive role assignment (evidence)',
  storage: 'the storage account\'s name (evidence)',
  'storage-account-resource-id': 'the storage account\'s resource ID (evidence)',
  'caller-range': 'the callers\' addresses: yours to choose',
  'exact-fqdn': 'the exact domain name the account must reach: yours to choose',
  'principal-id': 'the managed identity\'s principal ID (not in this rule\'s findings)',
  'log-analytics-workspace-id': 'the Log Analytics workspace to send the logs to: yours to choose',
  vnet: 'the consuming virtual network: yours to choose',
  subnet: 'the consuming subnet: yours to choose',
  'subnet-resource-id': 'the consuming subnet\'s resource ID: yours to choose',
};

type Values = Readonly<Record<string, string>>;

/** Used only through `matchAll`, which starts at its `lastIndex`: never `exec` it, which would move that. */
const PLACEHOLDER = /<([a-z][a-z0-9-]*)>/g;
/** A placeholder exactly at `lastIndex`. */
const PLACEHOLDER_AT = /<([a-z][a-z0-9-]*)>/y;

/** Control (C0, DEL, C1), bidirectional, zero-width and line/paragraph separator characters. */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/g;

/** What may stand unquoted in a shell word. */
const SHELL_SAFE = /^[\w./-]+$/;

/** CONTROL_CHARACTERS without the global flag: `test` keeps no state between values. */
const CONTROL_CHARACTER = new RegExp(CONTROL_CHARACTERS.source);

function hasControl(value: string): boolean {
  return CONTROL_CHARACTER.test(value);
}

/** `value` as one single-quoted shell word. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, '\'\\\'\'')}'`;
}

/**
 * A template split once into its literal text and its placeholders (what does not depend on the
 * finding): a placeholder's `quote` is the shell quoting around it (`fillCommand`; '' for Bicep).
 */
type TemplatePart = string | { readonly name: string; readonly whole: string; readonly quote: '' | '\'' | '"' };

/** Compiled templates by text (the rules' templates: a few dozen). */
const commandTemplates = new Map<string, readonly TemplatePart[]>();
const bicepTemplates = new Map<string, readonly TemplatePart[]>();

/** A shell command template's parts: the quoting state is the template's alone (values are literal words). */
function commandParts(template: string): readonly TemplatePart[] {
  let parts = commandTemplates.get(template);
  if (parts !== undefined) return parts;
  const out: TemplatePart[] = [];
  let text = '';
  let quote: '' | '\'' | '"' = '';
  for (let i = 0; i < template.length;) {
    const c = template[i] ?? '';
    if (c === '<') {
      PLACEHOLDER_AT.lastIndex = i;
      const m = PLACEHOLDER_AT.exec(template);
      const name = m?.[1];
      if (m && name !== undefined) {
        if (text !== '') out.push(text);
        text = '';
        out.push({ name, whole: m[0], quote });
        i += m[0].length;
        continue;
      }
    }
    if ((c === '\'' || c === '"') && (quote === '' || quote === c)) quote = quote === '' ? c : '';
    text += c;
    i += 1;
  }
  if (text !== '') out.push(text);
  parts = out;
  commandTemplates.set(template, parts);
  return parts;
}

/**
 * Fills `template`, a shell command line, with `values`: each value becomes literal text of the
 * word it is in, whatever the quoting around its placeholder (none, `'…'` or `"…"`).
 */
function fillCommand(template: string, values: Values): string {
  return fillParts(commandParts(template), (part) => {
    const value = values[part.name];
    if (value === undefined || value === '' || value.startsWith('-') || hasControl(value)) return part.whole;
    return SHELL_SAFE.test(value) ? value : `${part.quote}${shellQuote(value)}${part.quote}`;
  });
}

/** A template's text with each placeholder replaced by `render`'s text for it. */
function fillParts(parts: readonly TemplatePart[], render: (placeholder: Exclude<TemplatePart, string>) => string): string {
  let out = '';
  for (const part of parts) out += typeof part === 'string' ? part : render(part);
  return out;
}

/** Whatever `bicepText` escapes. */
const BICEP_ESCAPED = new RegExp(`[\\\\']|\\$\\{|${CONTROL_CHARACTERS.source}`);

/** `value` as the body of a single-quoted Bicep string (also harmless in a `//` comment). */
function bicepText(value: string): string {
  if (!BICEP_ESCAPED.test(value)) return value;
  return value
    .replace(/\\/g, '\\\\')
    .replace(/'/g, '\\\'')
    .replace(/\$\{/g, '\\${')
    .replace(CONTROL_CHARACTERS, (ch) => `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`);
}

/** A Bicep template's parts: its placeholders as `String.replace` finds them, left to right. */
function bicepParts(template: string): readonly TemplatePart[] {
  let parts = bicepTemplates.get(template);
  if (parts !== undefined) return parts;
  const out: TemplatePart[] = [];
  let at = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > at) out.push(template.slice(at, m.index));
    out.push({ name: m[1] ?? '', whole: m[0], quote: '' });
    at = m.index + m[0].length;
  }
  if (at < template.length) out.push(template.slice(at));
  parts = out;
  bicepTemplates.set(template, parts);
  return parts;
}

function fillBicep(template: string, values: Values): string {
  return fillParts(bicepParts(template), (part) => {
    const value = values[part.name];
    return value === undefined || value === '' ? part.whole : bicepText(value);
  });
}

// Evidence is JSON written by the rules (and read back from findings.ndjson): read it defensively.
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const field = (v: unknown, key: string): unknown => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined);

const PERIMETER_ID
  = /^(\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityPerimeters\/([^/]+))(?:\/profiles\/([^/]+)(?:\/accessRules\/([^/]+))?|\/resourceAssociations\/([^/]+))?\/*$/i;

/** The perimeter's placeholders (and the profile's, access rule's or association's) from an ID of it or below it. */
function perimeterValues(id: unknown): Record<string, string> {
  const m = PERIMETER_ID.exec(str(id) ?? '');
  if (!m) return {};
  const [, perimeterId, subscription, rg, perimeter, profile, rule, association] = m;
  const out: Record<string, string> = {};
  const set = (key: string, value: string | undefined) => {
    if (value) out[key] = value;
  };
  set('perimeter-resource-id', perimeterId);
  set('perimeter-subscription', subscription);
  set('perimeter-rg', rg);
  set('perimeter', perimeter);
  set('profile', profile);
  if (profile && perimeterId) set('profile-resource-id', `${perimeterId}/profiles/${profile}`);
  set('rule', rule);
  set('association', association);
  return out;
}

/** The last segment of a resource ID. */
const nameOf = (id: string): string => id.replace(/\/+$/, '').split('/').pop() ?? '';

/** Does `prefix` admit more than `max` addresses (NSP-03, NET-04)? */
function tooWide(prefix: unknown, max: unknown): boolean {
  const count = typeof prefix === 'string' ? addressCount(prefix) : undefined;
  return count !== undefined && typeof max === 'number' && count > BigInt(max);
}

/**
 * Per rule, the targets its finding's evidence names: one set of placeholder values per target
 * (an offending rule, a pending connection…), each filling one line of the command. No entry, or
 * no target: the account's values alone.
 */
const TARGETS: Readonly<Record<string, (e: Readonly<Record<string, unknown>>, f: Finding) => Record<string, string>[]>> = {
  // The perimeter of an association that exists but did not succeed (none when there is no association).
  'NSP-01': (e) => list(e.associations).slice(0, 1).map((a) => perimeterValues(field(a, 'perimeter'))),
  'NSP-02': (e) => [{ ...perimeterValues(e.perimeter), ...perimeterValues(e.association) }],
  'NSP-03': (e) => list(e.inboundRules)
    .filter((r) => list(field(r, 'addressPrefixes')).some((p) => tooWide(p, e.maxRuleAddresses)))
    .map((r) => perimeterValues(field(r, 'id'))),
  'NSP-04': (e) => list(e.outboundRules)
    .filter((r) => list(field(r, 'fullyQualifiedDomainNames')).some((d) => typeof d === 'string' && d.includes('*')))
    .map((r) => perimeterValues(field(r, 'id'))),
  'NSP-05': (e) => list(e.configurations)
    .filter((c) => String(field(c, 'provisioningState')).toLowerCase() !== 'succeeded' || list(field(c, 'provisioningIssues')).length > 0)
    .map((c) => ({ ...perimeterValues(field(c, 'perimeter')), ...(str(field(c, 'name')) ? { 'configuration-name': String(field(c, 'name')) } : {}) })),
  'NET-03': (e) => list(e.ipRules)
    .filter((v): v is string => typeof v === 'string' && ipRuleOffences(v).length > 0)
    .map((v) => ({ 'offending-rule': v })),
  'NET-04': (e) => list(e.ipRules)
    .filter((v): v is string => tooWide(v, e.maxRuleAddresses))
    .map((v) => ({ 'wide-range': v })),
  'NET-06': (e) => list(e.connections)
    .filter((c) => String(field(c, 'status')).toLowerCase() === 'pending' && str(field(c, 'id')))
    .map((c) => ({ 'connection-resource-id': String(field(c, 'id')) })),
  // The assignments the message names as excessive (which roles are privileged is a parameter, not evidence).
  'ID-03': (e, f) => list(e.roleAssignments)
    .filter((a) => str(field(a, 'id')) && f.message.includes(`${String(field(a, 'role'))} on ${str(field(a, 'scope')) ?? '/'} (`))
    .map((a) => ({ 'role-assignment-id': String(field(a, 'id')) })),
  'ID-04': (e) => list(e.storageAccounts)
    .filter((s) => field(s, 'status') === 'not_ok' && str(field(s, 'storageId')))
    .map((s) => ({ 'storage-account-resource-id': String(field(s, 'storageId')), storage: nameOf(String(field(s, 'storageId'))) })),
};

/** The placeholders left in `text`, in order of first appearance. */
export function placeholdersIn(text: string): string[] {
  if (!text.includes('<')) return [];
  const seen = new Set<string>();
  for (const m of text.matchAll(PLACEHOLDER)) seen.add(m[1] ?? '');
  return [...seen];
}

/**
 * The remediation of `rule` for `finding`, with the names of the finding's account and, where its
 * evidence records them, of its perimeter, profile, access rule, association, storage account,
 * connection or role assignment filled in (see `TARGETS`). NSP-07's are the access rules its
 * finding proposes (their own commands), when it proposes any. Meant for failing findings; works
 * on any.
 * @param rule the rule's catalog entry (as in `scan.json`): its `remediation` templates
 */
export function remediationFor(finding: Finding, rule: Pick<RuleCatalogEntry, 'id' | 'remediation'>): FilledRemediation {
  // The report writer asks for the same finding's fix once per format (CSV, SARIF, HTML) in a row.
  if (last !== undefined && last.finding === finding && last.rule === rule) return last.filled;
  const filled = fill(finding, rule);
  last = { finding, rule, filled };
  return filled;
}

/** The last fix made (findings and catalog entries are not changed once made). */
let last: { readonly finding: Finding; readonly rule: Pick<RuleCatalogEntry, 'id' | 'remediation'>; readonly filled: FilledRemediation } | undefined;

function fill(finding: Finding, rule: Pick<RuleCatalogEntry, 'id' | 'remediation'>): FilledRemediation {
  const { description, az, bicep } = rule.remediation;
  const evidence = finding.evidence ?? {};
  if (rule.id === 'NSP-07') {
    const proposed = list(evidence.proposedRules).filter((r) => str(field(r, 'az')) && str(field(r, 'bicep')));
    if (proposed.length > 0) {
      return { description, az: proposed.map((r) => String(field(r, 'az'))).join('\n'), bicep: proposed.map((r) => String(field(r, 'bicep'))).join('\n\n'), unfilled: [] };
    }
  }
  const account: Values = {
    subscription: finding.subscriptionId,
    rg: finding.resourceGroup,
    account: finding.accountName,
    'account-resource-id': finding.resourceId,
    location: finding.location,
    ...(finding.kind ? { kind: finding.kind } : {}),
  };
  const found = TARGETS[rule.id]?.(evidence, finding) ?? [];
  const targets = found.length > 0 ? found.map((t) => ({ ...account, ...t })) : [account];
  const first = targets[0] ?? account;
  const filledAz = [...new Set(targets.map((t) => fillCommand(az, t)))].join('\n');
  const filledBicep = fillBicep(bicep, first);
  return { description, az: filledAz, bicep: filledBicep, unfilled: placeholdersIn(`${filledAz}\n${filledBicep}`) };
}
