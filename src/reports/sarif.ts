import { createHash } from 'node:crypto';
import type * as Sarif from 'sarif';
import type { Finding, RuleCatalogEntry, Severity } from '../domain/rule.js';
import type { ScanDocument } from '../store/scanDocument.js';
import { coverageOf } from './coverage.js';
import { remediationFor } from './remediation.js';

/**
 * `report.sarif`: SARIF 2.1.0 (OASIS, https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html).
 * Rules become `reportingDescriptors`; `fail` findings become results at the rule's level and
 * `unknown` findings results at level `note`; the account is the result's logical location.
 * Streamed: the results are written one at a time between the log's text before and after them.
 */

export const SARIF_LEVEL: Readonly<Record<Severity, Sarif.ReportingConfiguration.level>> = {
  high: 'error',
  medium: 'warning',
  low: 'note',
};

/** GitHub code scanning reads `security-severity` (0–10) to rank security results. */
const SECURITY_SEVERITY: Readonly<Record<Severity, string>> = { high: '8.0', medium: '5.5', low: '3.0' };

export const TOOL_NAME = 'perimeter-auditor';
export const TOOL_URI = 'https://github.com/perimeter-auditor/perimeter-auditor';

function descriptor(rule: RuleCatalogEntry): Sarif.ReportingDescriptor {
  const helpUri = rule.references.find((r) => r.startsWith('https://'));
  return {
    id: rule.id,
    name: rule.slug,
    shortDescription: { text: rule.title },
    fullDescription: { text: rule.rationale },
    ...(helpUri ? { helpUri } : {}),
    help: {
      text: `${rule.remediation.description}\n\n${rule.remediation.az}`,
      markdown: `${rule.remediation.description}\n\n\`\`\`bash\n${rule.remediation.az}\n\`\`\`\n\n\`\`\`bicep\n${rule.remediation.bicep}\n\`\`\``,
    },
    defaultConfiguration: { level: SARIF_LEVEL[rule.severity], enabled: rule.enabledByDefault },
    properties: {
      tags: ['security', 'azure', 'network-security-perimeter', ...rule.controls.mcsb.map((c) => `MCSB/${c}`)],
      severity: rule.severity,
      'security-severity': SECURITY_SEVERITY[rule.severity],
      mcsb: [...rule.controls.mcsb],
      azurePolicy: [...rule.controls.azurePolicy],
      cis: [...rule.controls.cis],
      appliesTo: rule.appliesToText,
    },
  };
}

function result(f: Finding, ruleIndex: number, rule: RuleCatalogEntry | undefined): Sarif.Result {
  // A fail's fix with the account's own names (the same as the HTML's and the CSV's: reports/remediation.ts).
  const fix = f.outcome === 'fail' && rule ? remediationFor(f, rule) : undefined;
  const fingerprint = createHash('sha256').update(`${f.ruleId}|${f.resourceId.toLowerCase()}`).digest('hex').slice(0, 32);
  return {
    ruleId: f.ruleId,
    ...(ruleIndex >= 0 ? { ruleIndex } : {}),
    kind: 'fail',
    level: f.outcome === 'fail' ? SARIF_LEVEL[f.severity] : 'note',
    message: { text: f.outcome === 'unknown' ? `Could not be decided: ${f.message}` : f.message },
    locations: [
      {
        logicalLocations: [{ name: f.accountName, fullyQualifiedName: f.resourceId, kind: 'resource' }],
      },
    ],
    partialFingerprints: { 'perimeterAuditorFinding/v1': fingerprint },
    // SARIF's own way to say "known and accepted": an exempted finding is a suppressed result.
    ...(f.exemption
      ? { suppressions: [{ kind: 'external' as const, status: 'accepted' as const, justification: `${f.exemption.category}: ${f.exemption.name}: ${f.exemption.justification}` }] }
      : {}),
    properties: {
      outcome: f.outcome,
      subscriptionId: f.subscriptionId,
      resourceGroup: f.resourceGroup,
      accountKind: f.kind,
      location: f.location,
      evidence: f.evidence,
      ...(fix ? { remediation: { description: fix.description, az: fix.az, bicep: fix.bicep, unfilled: fix.unfilled } } : {}),
    },
  };
}

/**
 * The SARIF log of a scan without its results: the text before the results array's first element
 * and after its last. The results are written between them (`SarifResults`), so the log streams.
 */
export function sarifFrame(scan: ScanDocument): { before: string; after: string } {
  const run: Sarif.Run = {
    tool: {
      driver: {
        name: TOOL_NAME,
        informationUri: TOOL_URI,
        semanticVersion: '0.1.0',
        rules: scan.rules.map(descriptor),
      },
    },
    automationDetails: { id: `${TOOL_NAME}/${scan.scanId}` },
    invocations: [
      {
        // A partial scan did not read everything in scope: not a successful execution, and the gaps are said.
        executionSuccessful: scan.status === 'complete',
        ...(scan.status === 'complete'
          ? {}
          : { toolExecutionNotifications: [{ level: 'warning' as const, message: { text: `Partial scan: ${coverageOf(scan).text}. Verdicts that depend on data not read are unknown.` } }] }),
        startTimeUtc: scan.startedAt,
        endTimeUtc: scan.finishedAt,
        properties: { status: scan.status, accounts: scan.coverage.accounts },
      },
    ],
    results: [],
  };
  const log: Sarif.Log = { $schema: 'https://json.schemastore.org/sarif-2.1.0.json', version: '2.1.0', runs: [run] };
  const text = JSON.stringify(log);
  const marker = '"results":[]';
  const at = text.lastIndexOf(marker);
  return { before: `${text.slice(0, at)}"results":[`, after: `]${text.slice(at + marker.length)}` };
}

/**
 * The results array's elements, fed one finding at a time (reports/writer.ts): one result per
 * `fail` and per `unknown`, comma-separated, in the order added. Goes between `sarifFrame`'s texts.
 */
export class SarifResults {
  private readonly index: ReadonlyMap<string, number>;
  private readonly rules: readonly RuleCatalogEntry[];
  private ready = '';
  private first = true;

  /** @param rules the scan's rules, in its order (a result's `ruleIndex` points into them) */
  constructor(rules: readonly RuleCatalogEntry[]) {
    this.index = new Map(rules.map((r, i) => [r.id, i]));
    this.rules = rules;
  }

  /** Adds the finding's result when it is a `fail` or an `unknown`. */
  add(f: Finding): void {
    if (f.outcome !== 'fail' && f.outcome !== 'unknown') return;
    const i = this.index.get(f.ruleId) ?? -1;
    this.ready += `${this.first ? '' : ','}${JSON.stringify(result(f, i, this.rules[i]))}`;
    this.first = false;
  }

  /** The results text ready since the last call ('' when none). */
  take(): string {
    const text = this.ready;
    this.ready = '';
    return text;
  }
}
