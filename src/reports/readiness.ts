import type { Finding } from '../domain/rule.js';
import type { AccessLogFlow } from '../domain/snapshot.js';
import type { ProposedAccessRule, UnplannedFlow } from '../rules/readinessPlan.js';

/**
 * Enforcement readiness (NSP-07) as read from findings: the plan per account, for the CLI's
 * `readiness` command, the demo and the HTML report's "Enforcement readiness" section. The flows
 * come from the perimeter's access logs, which callers can write into (a destination name, a source
 * address): `printable` makes such text safe for a terminal.
 */

/** One account's readiness, from its NSP-07 finding. */
export interface AccountReadiness {
  readonly finding: Finding;
  readonly flows: readonly AccessLogFlow[];
  readonly rules: readonly ProposedAccessRule[];
  readonly unplanned: readonly UnplannedFlow[];
}

/** The NSP-07 findings of a scan with their evidence typed (fails first, then by account name). */
export function readinessOf(findings: Iterable<Finding>): AccountReadiness[] {
  const out: AccountReadiness[] = [];
  for (const f of findings) {
    if (f.ruleId !== 'NSP-07' || f.outcome === 'not_applicable') continue;
    const e = f.evidence as { flows?: AccessLogFlow[]; proposedRules?: ProposedAccessRule[]; unplannedFlows?: UnplannedFlow[] };
    const list = <T>(v: T[] | undefined): T[] => (Array.isArray(v) ? v : []);
    out.push({ finding: f, flows: list(e.flows), rules: list(e.proposedRules), unplanned: list(e.unplannedFlows) });
  }
  const rank = { fail: 0, unknown: 1, pass: 2, not_applicable: 3 } as const;
  return out.sort((a, b) => rank[a.finding.outcome] - rank[b.finding.outcome] || a.finding.accountName.localeCompare(b.finding.accountName));
}

/**
 * Text safe to print on a terminal: control characters (C0, DEL, C1) and bidirectional controls
 * become `\u{…}` escapes, so a log field cannot move the cursor, recolour the screen or reorder
 * what is shown (Unicode TR #36; "Trojan Source").
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u{${c.codePointAt(0)?.toString(16) ?? ''}}`);
}

/** The plan of every account as text: verdict, flows, then each proposed rule's command and Bicep. */
export function readinessText(accounts: readonly AccountReadiness[], o: { bicep?: boolean } = {}): string {
  const lines: string[] = [];
  for (const a of accounts) {
    const f = a.finding;
    lines.push(`${f.outcome.toUpperCase()} ${printable(f.accountName)} (${printable(f.resourceId)})`);
    lines.push(`  ${printable(f.message)}`);
    for (const flow of a.flows) {
      const who = flow.direction.toLowerCase() === 'outbound' ? `to ${flow.destinationFqdn}` : `from ${flow.sourceResourceId || flow.sourceIpAddress}`;
      lines.push(`  flow: ${printable(`${flow.direction} ${who}`)}, ${flow.count} record(s), last ${printable(flow.lastSeen)}`);
    }
    for (const u of a.unplanned) {
      const flow = u.flow;
      const what = flow.direction.toLowerCase() === 'outbound' ? flow.destinationFqdn : flow.sourceResourceId || flow.sourceIpAddress;
      lines.push(`  not planned: ${printable(`${flow.direction} ${what}`)}: ${u.reason}`);
    }
    for (const r of a.rules) {
      lines.push(`  rule ${r.name} (${r.direction}) on profile ${printable(r.profileName)} of perimeter ${printable(r.perimeterName)}:`);
      lines.push(`    ${printable(r.az)}`);
      if (o.bicep) for (const l of r.bicep.split('\n')) lines.push(`    ${printable(l)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
