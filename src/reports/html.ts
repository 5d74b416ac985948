import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { escapeUTF8 } from 'entities';
import { type Finding, type Outcome, type RuleCatalogEntry, type Severity, SEVERITIES } from '../domain/rule.js';
import { type Baseline, readBy, TransitionDiff } from '../engine/diff.js';
import { type FindingSource, writeChunk } from '../store/artifact.js';
import type { ScanDocument } from '../store/scanDocument.js';
import { type AccountReadiness, readinessOf } from './readiness.js';
import { CONTROL_CHARACTERS, remediationFor } from './remediation.js';
import { ReportAggregator, type ReportSummary } from './summary.js';
import { type TrendPoint, trendOf } from './trend.js';

/**
 * `report.html`: one self-contained page (no external scripts, fonts, styles or images) for a
 * security team: headline, the trend over the last committed scans (static inline SVG and a table),
 * outcomes by rule as inline SVG, tables by rule and by account with
 * drill-down to findings and evidence, a client-side filter, the MCSB and CIS 7.16 views, and what
 * changed since the previous scan.
 *
 * Every piece of resource-controlled text (names, tags, messages, evidence) goes through
 * `escapeUTF8` (entities). The page's only script is a fixed string whose SHA-256 is the only
 * script the page's Content-Security-Policy allows, so injected markup could not run a script even
 * if escaping failed. The page reads no resource text into HTML at run time (textContent only).
 *
 * Text that escapes correctly can still mislead: each piece of resource text is isolated from the
 * direction of what surrounds it (`<bdi>`), and its control, bidirectional and invisible characters
 * are shown as `\u{…}` markers in their place (so a U+202E cannot make a name read as another, and a
 * tag without its closing mark cannot reverse the rest of the line). Long tokens wrap anywhere, so
 * a 3,000-character name does not widen the page.
 *
 * Accounts are listed worst first (high-severity fails, then medium, low, unknown, compliant), and
 * each failing finding shows its rule's fix with the account's names filled in (reports/remediation.ts).
 */

export interface HtmlOptions {
  /** Previous scan, for "new since" / "resolved since" (engine/diff.ts: new = opened + regressed). */
  readonly previous?: Baseline;
  /** Accounts shown with drill-down (count); above it, the page says where the full list is. Default 2000. */
  readonly accountCap?: number;
  /**
   * The store's committed scans before this one (`ScanStore.history`, reports/trend.ts): the page's
   * "Trend" section draws them and this scan. Absent: no trend section (e.g. a re-render).
   */
  readonly history?: readonly TrendPoint[];
}

const esc = (text: unknown): string => escapeUTF8(String(text ?? ''));

const COLORS: Readonly<Record<Outcome, string>> = { pass: '#2e7d32', fail: '#c62828', unknown: '#b26a00', not_applicable: '#9e9e9e' };
const LABELS: Readonly<Record<Outcome, string>> = { pass: 'pass', fail: 'fail', unknown: 'unknown', not_applicable: 'not applicable' };
const ORDER: readonly Outcome[] = ['fail', 'unknown', 'pass', 'not_applicable'];

/** The filter script. Fixed text: its hash is pinned in the page's CSP. */
export const FILTER_SCRIPT = `(function () {
  var q = document.getElementById('q');
  var sel = document.getElementById('state');
  var outcome = document.getElementById('outcome');
  var severity = document.getElementById('severity');
  var order = document.getElementById('order');
  var shown = document.getElementById('shown');
  var list = document.getElementById('account-list');
  var items = Array.prototype.slice.call(document.querySelectorAll('details.account'));
  function apply() {
    var text = q.value.trim().toLowerCase();
    var state = sel.value;
    var pair = outcome.value || severity.value ? ' ' + (outcome.value || '*') + ':' + (severity.value || '*') + ' ' : '';
    var n = 0;
    items.forEach(function (el) {
      var ok = (!text || el.getAttribute('data-search').indexOf(text) !== -1) && (!state || el.getAttribute('data-state') === state) && (!pair || (' ' + el.getAttribute('data-findings') + ' ').indexOf(pair) !== -1);
      el.hidden = !ok;
      if (ok) n += 1;
    });
    shown.textContent = n + ' of ' + items.length + ' accounts shown';
  }
  function sort() {
    var key = order.value === 'name' ? 'data-name' : order.value === 'subscription' ? 'data-subscription' : '';
    items.slice().sort(function (a, b) {
      var x = key ? a.getAttribute(key) : '';
      var y = key ? b.getAttribute(key) : '';
      return x < y ? -1 : x > y ? 1 : Number(a.getAttribute('data-rank')) - Number(b.getAttribute('data-rank'));
    }).forEach(function (el) { list.appendChild(el); });
  }
  q.addEventListener('input', apply);
  sel.addEventListener('change', apply);
  outcome.addEventListener('change', apply);
  severity.addEventListener('change', apply);
  order.addEventListener('change', sort);
  sort();
  apply();
  Array.prototype.forEach.call(document.querySelectorAll('button.copy'), function (b) {
    b.addEventListener('click', function () {
      var target = document.getElementById(b.getAttribute('data-copy'));
      if (!target || !navigator.clipboard) return;
      navigator.clipboard.writeText(target.textContent).then(function () { b.textContent = 'copied'; }, function () { b.textContent = 'copy failed'; });
    });
  });
})();`;

const SCRIPT_HASH = createHash('sha256').update(FILTER_SCRIPT, 'utf8').digest('base64');

/** The page's Content-Security-Policy: nothing external, inline styles, only our script. */
export const REPORT_CSP = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${SCRIPT_HASH}'; base-uri 'none'; form-action 'none'`;

const STYLE = `
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b; }
body { margin: 0 auto; max-width: 1200px; padding: 24px; line-height: 1.4; overflow-wrap: anywhere; }
bdi { unicode-bidi: isolate; } .ctl { color: #c62828; background: #fdecea; border-radius: 3px; font-family: ui-monospace, monospace; font-size: .85em; }
.fix { border-left: 3px solid #1565c0; background: #f5f9ff; margin: 6px 0; padding: 4px 8px; } .fix pre { background: #fff; } .fix .unfilled { color: #555; font-size: .8rem; }
button.copy { font-size: .8rem; }
h1 { font-size: 1.6rem; margin: 0 0 4px; } h2 { font-size: 1.2rem; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; font-size: .9rem; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: 12px 16px; min-width: 150px; }
.card .n { font-size: 1.8rem; font-weight: 600; } .card .l { color: #555; font-size: .85rem; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #f6f6f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.o-fail { color: #c62828; font-weight: 600; } .o-unknown { color: #b26a00; font-weight: 600; } .o-pass { color: #2e7d32; } .o-not_applicable { color: #777; }
.sev-high { font-weight: 600; }
details.account { border: 1px solid #e3e3e3; border-radius: 6px; margin: 6px 0; padding: 4px 8px; }
details.account > summary { cursor: pointer; }
.readiness { border: 1px solid #e3e3e3; border-radius: 6px; margin: 8px 0; padding: 4px 12px; }
.readiness pre { background: #f6f6f6; padding: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: .8rem; margin-left: 6px; color: #fff; }
.b-fail { background: #c62828; } .b-unknown { background: #b26a00; } .b-ok { background: #2e7d32; }
.filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin: 8px 0; } .filters input { flex: 1; min-width: 240px; padding: 6px; font-size: 1rem; }
pre { white-space: pre-wrap; word-break: break-all; background: #fafafa; padding: 6px; margin: 4px 0; font-size: .8rem; }
.headline { font-size: 1.15rem; margin: 12px 0 0; } .headline.partial { background: #fff8e1; border: 1px solid #ffe082; padding: 8px 12px; border-radius: 6px; }
.note { background: #fff8e1; border: 1px solid #ffe082; padding: 8px 12px; border-radius: 6px; }
.legend span { margin-right: 14px; font-size: .85rem; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.legend i.hollow { background: #fff; border: 2px solid #1565c0; border-radius: 50%; width: 6px; height: 6px; } .legend i.dot { background: #1565c0; border-radius: 50%; }
`;

interface AccountEntry {
  readonly key: string;
  readonly first: Finding;
  readonly findings: Finding[];
  /** Fails by severity (exempted ones included: their outcome is still fail). */
  readonly fails: Record<Severity, number>;
  unknowns: number;
}

const failCount = (a: AccountEntry): number => a.fails.high + a.fails.medium + a.fails.low;

/**
 * Risk order, worst first: more high-severity fails, then more medium, more low, more unknowns;
 * compliant accounts last; ties by account name, then resource ID (a total order: the page is the
 * same whatever order the findings came in).
 */
function byRisk(a: AccountEntry, b: AccountEntry): number {
  return b.fails.high - a.fails.high
    || b.fails.medium - a.fails.medium
    || b.fails.low - a.fails.low
    || b.unknowns - a.unknowns
    || (a.first.accountName < b.first.accountName ? -1 : a.first.accountName > b.first.accountName ? 1 : 0)
    || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** Keeps the accounts shown with drill-down: the `cap` worst (byRisk), sorted worst first. */
class AccountBuffer {
  private readonly kept: AccountEntry[] = [];
  total = 0;
  private current: AccountEntry | undefined;

  constructor(private readonly cap: number) {}

  add(f: Finding): void {
    const key = f.resourceId.toLowerCase();
    if (this.current?.key !== key) {
      this.flush();
      this.current = { key, first: f, findings: [], fails: { high: 0, medium: 0, low: 0 }, unknowns: 0 };
    }
    const c = this.current;
    c.findings.push(f);
    if (f.outcome === 'fail' && f.severity in c.fails) c.fails[f.severity] += 1;
    if (f.outcome === 'unknown') c.unknowns += 1;
  }

  flush(): void {
    const c = this.current;
    this.current = undefined;
    if (!c) return;
    this.total += 1;
    const kept = this.kept;
    const last = kept.at(-1);
    if (kept.length >= this.cap && (last === undefined || byRisk(c, last) >= 0)) return;
    // Binary search for the first kept account that ranks after `c`.
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = kept[mid];
      if (m !== undefined && byRisk(m, c) <= 0) lo = mid + 1;
      else hi = mid;
    }
    kept.splice(lo, 0, c);
    if (kept.length > this.cap) kept.pop();
  }

  /** The accounts kept, worst first. */
  shown(): readonly AccountEntry[] {
    return this.kept;
  }
}

function counts(c: Record<Outcome, number>): string {
  return ORDER.map((o) => `<td class="num o-${o}">${c[o]}</td>`).join('');
}

function chart(summary: ReportSummary, scan: ScanDocument): string {
  const rowH = 24;
  const labelW = 80;
  const barW = 560;
  const width = labelW + barW + 150;
  const height = scan.rules.length * rowH + 8;
  const rows = scan.rules.map((r, i) => {
    const c = summary.byRule[r.id] ?? { pass: 0, fail: 0, unknown: 0, not_applicable: 0 };
    const total = ORDER.reduce((s, o) => s + c[o], 0);
    let x = labelW;
    const y = i * rowH + 4;
    const bars = ORDER.map((o) => {
      const w = total === 0 ? 0 : (c[o] / total) * barW;
      const rect = w > 0 ? `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${COLORS[o]}"><title>${esc(r.id)} ${LABELS[o]}: ${c[o]}</title></rect>` : '';
      x += w;
      return rect;
    }).join('');
    return `<text x="0" y="${y + rowH - 11}" font-size="12">${esc(r.id)}</text>${bars}<text x="${labelW + barW + 8}" y="${y + rowH - 11}" font-size="11" fill="#555">${c.fail} fail · ${c.unknown} unknown</text>`;
  });
  const legend = ORDER.map((o) => `<span><i style="background:${COLORS[o]}"></i>${LABELS[o]}</span>`).join('');
  return `<svg role="img" aria-label="Outcomes by rule" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">${rows.join('')}</svg><div class="legend">${legend}</div>`;
}

/** Resource text shown: escaped, its control and bidirectional characters as visible `\u{…}` markers. */
function visible(text: unknown): string {
  return esc(text).replace(CONTROL_CHARACTERS, (ch) => {
    const hex = (ch.codePointAt(0) ?? 0).toString(16);
    return `<span class="ctl" title="U+${hex.toUpperCase().padStart(4, '0')}">\\u{${hex}}</span>`;
  });
}

/** Attacker-controlled text (names, tags, messages, log fields): visible, escaped, and isolated from the surrounding text's direction (<bdi>). */
const iso = (text: unknown): string => `<bdi>${visible(text)}</bdi>`;

/** The rules' catalog entries by ID, for their remediation. */
type RuleIndex = ReadonlyMap<string, Pick<RuleCatalogEntry, 'id' | 'remediation'>>;

/**
 * A failing finding's fix: the rule's description, its `az` command and Bicep with the account's
 * names filled in, each with a copy button (the page's script copies the `<pre>`'s text).
 * @param id unique in the page: the prefix of the `<pre>` IDs
 */
function fixBlock(f: Finding, rules: RuleIndex, id: string): string {
  const rule = rules.get(f.ruleId);
  if (!rule) return '';
  const r = remediationFor(f, rule);
  const unfilled = r.unfilled.length === 0 ? '' : `<p class="unfilled">Fill in yourself: ${r.unfilled.map((p) => `<code>&lt;${esc(p)}&gt;</code>`).join(', ')}.</p>`;
  return `<div class="fix"><p><strong>Fix:</strong> ${esc(r.description)}</p>
<pre id="${id}-az" dir="ltr">${esc(r.az)}</pre><button type="button" class="copy" data-copy="${id}-az">copy command</button>
<details><summary>Bicep</summary><pre id="${id}-bicep" dir="ltr">${esc(r.bicep)}</pre><button type="button" class="copy" data-copy="${id}-bicep">copy Bicep</button></details>${unfilled}</div>`;
}

/**
 * Table rows of findings. With `fixes` (an account's drill-down), each fail shows its fix and the
 * evidence is folded under the message; `withAccount` (the changes lists) adds the account column.
 */
function findingRows(findings: readonly Finding[], withAccount: boolean, fixes?: { readonly rules: RuleIndex; readonly prefix: string }): string {
  return findings
    .map(
      (f, j) =>
        `<tr data-outcome="${esc(f.outcome)}" data-severity="${esc(f.severity)}">${withAccount ? `<td>${iso(f.accountName)}<br><small>${iso(f.subscriptionId)} / ${iso(f.resourceGroup)}</small></td>` : ''}<td>${esc(f.ruleId)}</td><td class="sev-${esc(f.severity)}">${esc(f.severity)}</td><td class="o-${esc(f.outcome)}">${esc(LABELS[f.outcome] ?? f.outcome)}${
          f.exemption ? `<br><small class="exempt">exempted (${esc(f.exemption.category)}: ${iso(f.exemption.name)})</small>` : ''
        }${f.expiredExemption ? `<br><small>exemption ${iso(f.expiredExemption.name)} expired ${esc(f.expiredExemption.expiresOn)}</small>` : ''}</td><td>${iso(f.message)}${
          !withAccount && f.evidence && Object.keys(f.evidence).length > 0 ? `<details><summary>evidence</summary><pre>${visible(JSON.stringify(f.evidence, null, 2))}</pre></details>` : ''
        }${fixes && f.outcome === 'fail' ? fixBlock(f, fixes.rules, `${fixes.prefix}-${j}`) : ''}</td></tr>`,
    )
    .join('');
}

/**
 * One account with drill-down. Its data attributes feed the page's script: `data-search` (text
 * filter), `data-state`, `data-findings` (`outcome:severity` pairs, with `*` wildcards, for the
 * outcome and severity filters), `data-rank` (risk order), `data-name` and `data-subscription`.
 * @param rank the account's place in risk order (0: the worst); unique, so also the IDs' prefix
 */
function accountBlock(a: AccountEntry, rank: number, rules: RuleIndex): string {
  const f = a.first;
  const tags = Object.entries(f.tags ?? {}).map(([k, v]) => `${k}=${v}`);
  const fails = failCount(a);
  const state = fails > 0 ? 'fail' : a.unknowns > 0 ? 'unknown' : 'ok';
  const search = [f.accountName, f.kind ?? '', f.resourceId, f.subscriptionId, f.resourceGroup, f.location, ...tags, ...a.findings.flatMap((x) => [x.ruleId, x.outcome, x.message])]
    .join(' ')
    .toLowerCase();
  const pairs = new Set(a.findings.flatMap((x) => [`${x.outcome}:${x.severity}`, `${x.outcome}:*`, `*:${x.severity}`]));
  const badges = [
    ...SEVERITIES.map((sev) => (a.fails[sev] > 0 ? `<span class="badge b-fail sev-${sev}">${a.fails[sev]} ${sev} fail</span>` : '')),
    a.unknowns > 0 ? `<span class="badge b-unknown">${a.unknowns} unknown</span>` : '',
    fails === 0 && a.unknowns === 0 ? '<span class="badge b-ok">compliant</span>' : '',
  ].join('');
  const sorted = [...a.findings].sort(
    (x, y) => ORDER.indexOf(x.outcome) - ORDER.indexOf(y.outcome) || SEVERITIES.indexOf(x.severity) - SEVERITIES.indexOf(y.severity),
  );
  return `<details class="account" data-state="${state}" data-rank="${rank}" data-name="${esc(f.accountName.toLowerCase())}" data-subscription="${esc(`${f.subscriptionId} ${f.resourceGroup} ${f.accountName}`.toLowerCase())}" data-findings="${esc([...pairs].join(' '))}" data-search="${esc(search)}"><summary><strong>${iso(f.accountName)}</strong> · ${iso(f.kind ?? 'unknown kind')} · ${iso(f.location)} · <small>${iso(f.subscriptionId)} / ${iso(f.resourceGroup)}</small>${badges}</summary>
<p><small>${iso(f.resourceId)}</small>${tags.length ? `<br><small>tags: ${tags.map((t) => iso(t)).join(', ')}</small>` : ''}</p>
<table><thead><tr><th>rule</th><th>severity</th><th>outcome</th><th>message, evidence and fix</th></tr></thead><tbody>${findingRows(sorted, false, { rules, prefix: `fix-${rank}` })}</tbody></table></details>`;
}

/** Counted findings, of which the first `keep` are shown. */
interface Shown {
  count: number;
  readonly findings: Finding[];
}

/** The report's side of the diff: new (opened or regressed, as they are now) and resolved (as they were). */
class ChangeList {
  readonly opened: Shown = { count: 0, findings: [] };
  readonly resolved: Shown = { count: 0, findings: [] };

  constructor(
    private readonly diff: TransitionDiff,
    private readonly keep: number,
  ) {}

  private add(list: Shown, f: Finding): void {
    list.count += 1;
    if (list.findings.length < this.keep) list.findings.push(f);
  }

  observe(f: Finding): void {
    const c = this.diff.observe(f);
    if (c?.kind === 'resolved') this.add(this.resolved, c.previous ?? f);
    else if (c) this.add(this.opened, f);
  }

  /** Adds the pairs resolved because their account is gone (covered by `isCovered`); after the last `observe`. */
  finish(isCovered: (previous: Finding) => boolean): void {
    for (const c of this.diff.gone(isCovered)) this.add(this.resolved, c.previous);
  }
}

function more(list: Shown): string {
  return list.count > list.findings.length ? `<p>… and ${list.count - list.findings.length} more.</p>` : '';
}

/**
 * What the HTML page keeps of the findings, fed one at a time: the accounts shown with drill-down
 * (capped, failing ones first) and what changed since the previous scan (capped lists, the diff of
 * engine/diff.ts). Its counts come from a `ReportAggregator` fed the same findings. Memory: the
 * capped accounts' findings, 200 changes of each kind, and the diff's (see engine/diff.ts).
 */
export class HtmlReport {
  private readonly cap: number;
  private readonly accounts: AccountBuffer;
  private readonly changes: ChangeList | undefined;
  /** NSP-07 findings that are not `not_applicable` (enforcement readiness), the first `cap`; and how many there were. */
  private readonly readiness: Finding[] = [];
  private readinessCount = 0;

  /**
   * Which previous fails are resolved because their account is gone is decided by `write`, from the
   * finished scan's coverage: the page can be fed while later parts of the scan are still read.
   */
  constructor(private readonly options: HtmlOptions = {}) {
    this.cap = options.accountCap ?? 2000;
    this.accounts = new AccountBuffer(this.cap);
    this.changes = options.previous ? new ChangeList(new TransitionDiff(options.previous.outcomes), 200) : undefined;
  }

  /** Takes one finding; findings arrive grouped by account. */
  add(f: Finding): void {
    this.accounts.add(f);
    this.changes?.observe(f);
    if (f.ruleId === 'NSP-07' && f.outcome !== 'not_applicable') {
      this.readinessCount += 1;
      if (this.readiness.length < READINESS_CAP) this.readiness.push(f);
    }
  }

  /**
   * Writes the page, chunk by chunk, through `write` (which resolves when the chunk is taken:
   * backpressure); once, after the last `add`.
   * @param summary the `ReportAggregator` summary of the same findings
   */
  async write(scan: ScanDocument, summary: ReportSummary, write: (text: string) => Promise<void>): Promise<void> {
    // A previous fail whose account is gone is resolved only where this scan read the subscription.
    this.changes?.finish(readBy(scan));
    this.accounts.flush();
    const readiness = { accounts: readinessOf(this.readiness), count: this.readinessCount };
    const trend = this.options.history ? trendOf([...this.options.history, scan]) : undefined;
    await writePage(scan, summary, { accounts: this.accounts, changes: this.changes, previous: this.options.previous, cap: this.cap, readiness, trend }, write);
  }
}

/** Streams the HTML report of `source` into `out` (one pass; a commit writes it with the other formats, reports/writer.ts). */
export async function writeHtml(scan: ScanDocument, source: FindingSource, out: Writable, options: HtmlOptions = {}): Promise<void> {
  const agg = new ReportAggregator(scan.rules);
  const html = new HtmlReport(options);
  for await (const f of source()) {
    agg.add(f);
    html.add(f);
  }
  await html.write(scan, agg.summary(scan), (text) => writeChunk(out, text));
}

/** What the page shows of the findings: the accounts kept, the changes and the scan they are since. */
interface Kept {
  readonly accounts: AccountBuffer;
  readonly changes: ChangeList | undefined;
  readonly previous: Baseline | undefined;
  readonly cap: number;
  /** NSP-07 accounts shown (capped) and how many there were. */
  readonly readiness: { readonly accounts: readonly AccountReadiness[]; readonly count: number };
  /** The trend, oldest first, this scan included; undefined when the page has none. */
  readonly trend: readonly TrendPoint[] | undefined;
}

/** NSP-07 accounts the "Enforcement readiness" section shows (count); the rest are in report.csv and findings.ndjson. */
const READINESS_CAP = 200;

/** The "Enforcement readiness" section (NSP-07): per Learning-mode account, the would-be-denied flows and the rules to add, with copy buttons. */
function readinessSection(r: Kept['readiness']): string {
  if (r.count === 0) return '';
  const blocks = r.accounts.map((a, i) => {
    const f = a.finding;
    const flows = a.flows.length === 0
      ? ''
      : `<table><thead><tr><th>direction</th><th>source or destination</th><th>records</th><th>last seen</th></tr></thead><tbody>${a.flows
        .map((x) => `<tr><td>${esc(x.direction)}</td><td>${iso(x.direction.toLowerCase() === 'outbound' ? x.destinationFqdn : x.sourceResourceId || x.sourceIpAddress)}</td><td class="num">${esc(x.count)}</td><td>${iso(x.lastSeen)}</td></tr>`)
        .join('')}</tbody></table>`;
    const unplanned = a.unplanned.length === 0
      ? ''
      : `<p class="note">Not planned (review by hand):</p><ul>${a.unplanned
        .map((u) => `<li>${esc(u.flow.direction)} ${iso(u.flow.direction.toLowerCase() === 'outbound' ? u.flow.destinationFqdn : u.flow.sourceResourceId || u.flow.sourceIpAddress)}: ${esc(u.reason)}</li>`)
        .join('')}</ul>`;
    const rules = a.rules
      .map((rule, j) => `<div class="rule"><p><strong>${esc(rule.name)}</strong> (${esc(rule.direction)}) on profile ${iso(rule.profileName)} of perimeter ${iso(rule.perimeterName)}</p>
<pre id="az-${i}-${j}">${esc(rule.az)}</pre><button type="button" class="copy" data-copy="az-${i}-${j}">copy command</button>
<details><summary>Bicep</summary><pre id="bicep-${i}-${j}">${esc(rule.bicep)}</pre><button type="button" class="copy" data-copy="bicep-${i}-${j}">copy Bicep</button></details></div>`)
      .join('\n');
    return `<div class="readiness" data-outcome="${esc(f.outcome)}"><h3><span class="o-${esc(f.outcome)}">${esc(LABELS[f.outcome] ?? f.outcome)}</span> ${iso(f.accountName)} <small>${iso(f.subscriptionId)} / ${iso(f.resourceGroup)}</small></h3>
<p>${iso(f.message)}</p>${flows}${unplanned}${rules}</div>`;
  });
  return `<section id="readiness"><h2>Enforcement readiness</h2><p class="meta">NSP-07: for each account associated in Learning mode, the traffic its perimeter's access logs show would be denied once Enforced, and the access rules that keep it working (each within NSP-03 and NSP-04). Apply them, wait for the logs to show no would-be-denied traffic, then switch the association to Enforced.</p>
${blocks.join('\n')}${r.count > r.accounts.length ? `<p>… and ${r.count - r.accounts.length} more accounts in report.csv and findings.ndjson.</p>` : ''}</section>`;
}

const SEVERITY_COLORS: Readonly<Record<Severity, string>> = { high: '#b71c1c', medium: '#f57c00', low: '#fbc02d' };
const TREND_SEVERITIES: readonly Severity[] = ['high', 'medium', 'low'];
const COMPLIANCE_COLOR = '#1565c0';

/** The least of 1, 2 or 5 × a power of ten that is ≥ `n` (at least 1): the top of a count axis. */
function axisTop(n: number): number {
  if (!(n > 1)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(n));
  return ([1, 2, 5, 10].map((m) => m * magnitude).find((v) => v >= n) ?? 10 * magnitude);
}

/** A point's figures in words (the markers' tooltips). */
function trendTitle(p: TrendPoint): string {
  return `${p.scanId} · finished ${p.finishedAt} · ${p.status} scan
${p.headline}
fails (exempted excluded): ${p.fails.high} high, ${p.fails.medium} medium, ${p.fails.low} low · ${p.unknowns} unknown
coverage: ${p.coverage.text}`;
}

/**
 * The trend as a static SVG (no script): compliance over the accounts read as a line with a marker
 * per scan (filled: complete, hollow: partial; "n/a" where no account was read, never a 0 %), and
 * fails by severity as a stacked bar per scan (paler for a partial scan). Each scan is one
 * `g.trend-scan` whose parts carry its figures in a tooltip.
 */
function trendChart(points: readonly TrendPoint[]): string {
  const left = 48;
  const plotW = 720;
  const width = left + plotW + 24;
  const top = 22;
  const h1 = 120;
  const top2 = top + h1 + 44;
  const h2 = 100;
  const height = top2 + h2 + 34;
  const step = plotW / points.length;
  const x = (i: number) => left + step * (i + 0.5);
  const y1 = (percent: number) => top + h1 - (percent / 100) * h1;
  const max = axisTop(Math.max(0, ...points.map((p) => p.fails.high + p.fails.medium + p.fails.low)));
  const y2 = (n: number) => (n / max) * h2;
  const barW = Math.min(24, step * 0.6);
  const f = (n: number) => n.toFixed(1);
  const axisY = top2 + h2;
  // The first and last scans' end times, to the second, at the ends of the axis; each scan has a tick.
  const when = (p: TrendPoint | undefined) => esc(p?.finishedAt.replace(/\.\d+Z$/, 'Z'));
  const axis = `<text x="${left}" y="${axisY + 18}" font-size="10" fill="#555">oldest: ${when(points[0])}</text><text x="${left + plotW}" y="${axisY + 18}" font-size="10" text-anchor="end" fill="#555">newest: ${when(points.at(-1))}</text>`;

  const grid = [0, 50, 100]
    .map((v) => `<line x1="${left}" x2="${left + plotW}" y1="${f(y1(v))}" y2="${f(y1(v))}" stroke="#e0e0e0"/><text x="${left - 6}" y="${f(y1(v) + 4)}" font-size="11" text-anchor="end" fill="#555">${v}%</text>`)
    .join('')
    + [0, max]
      .map((v) => `<line x1="${left}" x2="${left + plotW}" y1="${f(top2 + h2 - y2(v))}" y2="${f(top2 + h2 - y2(v))}" stroke="#e0e0e0"/><text x="${left - 6}" y="${f(top2 + h2 - y2(v) + 4)}" font-size="11" text-anchor="end" fill="#555">${v}</text>`)
      .join('');
  const titles = `<text x="${left}" y="${top - 10}" font-size="12" font-weight="600">Compliant accounts (% of accounts read)</text><text x="${left}" y="${top2 - 10}" font-size="12" font-weight="600">Fails by severity (exempted excluded)</text>`;

  // The line joins consecutive scans that read accounts; a scan that read none breaks it.
  let path = '';
  let drawing = false;
  points.forEach((p, i) => {
    if (p.compliantPercent === null) {
      drawing = false;
      return;
    }
    path += `${drawing ? 'L' : 'M'}${f(x(i))} ${f(y1(p.compliantPercent))} `;
    drawing = true;
  });
  const line = path ? `<path d="${path.trim()}" fill="none" stroke="${COMPLIANCE_COLOR}" stroke-width="2"/>` : '';

  const scans = points.map((p, i) => {
    const title = `<title>${esc(trendTitle(p))}</title>`;
    const partial = p.status === 'partial';
    const marker = p.compliantPercent === null
      ? `<text class="marker no-data" x="${f(x(i))}" y="${f(y1(0) - 4)}" font-size="10" text-anchor="middle" fill="#777">n/a${title}</text>`
      : `<circle class="marker" cx="${f(x(i))}" cy="${f(y1(p.compliantPercent))}" r="4.5" fill="${partial ? '#fff' : COMPLIANCE_COLOR}" stroke="${COMPLIANCE_COLOR}" stroke-width="2">${title}</circle>`;
    let base = top2 + h2;
    const bars = TREND_SEVERITIES.map((sev) => {
      const hgt = y2(p.fails[sev]);
      if (!(hgt > 0)) return '';
      base -= hgt;
      return `<rect class="bar bar-${sev}" x="${f(x(i) - barW / 2)}" y="${f(base)}" width="${f(barW)}" height="${f(hgt)}" fill="${SEVERITY_COLORS[sev]}"${partial ? ' fill-opacity="0.45"' : ''}><title>${esc(`${p.fails[sev]} ${sev}-severity fail(s)`)}&#10;${esc(trendTitle(p))}</title></rect>`;
    }).join('');
    const tick = `<line x1="${f(x(i))}" x2="${f(x(i))}" y1="${axisY}" y2="${axisY + 4}" stroke="#999"/>`;
    return `<g class="trend-scan" data-scan-id="${esc(p.scanId)}" data-status="${esc(p.status)}">${marker}${bars}${tick}</g>`;
  });
  return `<svg role="img" aria-label="Compliance and fails by severity, scan by scan" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">${titles}${grid}${line}${scans.join('')}${axis}<text x="${left + plotW / 2}" y="${height - 4}" font-size="10" text-anchor="middle" fill="#777">one tick per committed scan, in the order they ran (UTC)</text></svg>`;
}

/** The "Trend" section: the chart and its table over the last committed scans, or why there is no chart yet. */
function trendSection(points: readonly TrendPoint[]): string {
  const head = '<section id="trend"><h2>Trend</h2>';
  if (points.length < 2) {
    return `${head}<p class="meta">The trend is drawn from two committed scans on; this store holds ${points.length === 1 ? 'only this scan' : 'no scan'} so far.</p></section>`;
  }
  const partial = points.filter((p) => p.status === 'partial').length;
  const legend = `<div class="legend"><span><i class="dot"></i>compliant %, complete scan</span><span><i class="hollow"></i>partial scan</span>${TREND_SEVERITIES.map((sev) => `<span><i style="background:${SEVERITY_COLORS[sev]}"></i>${sev} fails</span>`).join('')}</div>`;
  const note = partial
    ? `<p class="note">${partial} of these ${points.length} scans ${partial === 1 ? 'is' : 'are'} partial (hollow markers, paler bars): some data could not be read, so ${partial === 1 ? 'its' : 'their'} figures are over what was read (coverage in the table).</p>`
    : '';
  const rows = points
    .map((p) => `<tr data-scan-id="${esc(p.scanId)}"><td><code>${esc(p.scanId)}</code></td><td>${esc(p.finishedAt)}</td><td>${esc(p.status)}</td><td class="num">${p.compliantPercent === null ? `— <small>${esc(p.headline)}</small>` : `${esc(p.compliantPercent)}%`}</td><td class="num">${esc(p.accountsRead)}</td>${TREND_SEVERITIES.map((sev) => `<td class="num">${esc(p.fails[sev])}</td>`).join('')}<td class="num">${esc(p.unknowns)}</td><td><small>${esc(p.coverage.text)}</small></td></tr>`)
    .join('\n');
  return `${head}<p class="meta">The last ${points.length} committed scans, oldest first, from each scan's <code>scan.json</code> summary: compliance over the accounts each read, and fails by severity (exempted fails excluded).</p>
${trendChart(points)}${legend}${note}
<details id="trend-table"><summary>The trend as a table</summary><table><thead><tr><th>scan</th><th>finished</th><th>status</th><th>compliant</th><th>accounts read</th><th>high fails</th><th>medium fails</th><th>low fails</th><th>unknown</th><th>coverage</th></tr></thead><tbody>
${rows}
</tbody></table></details></section>`;
}

async function writePage(scan: ScanDocument, summary: ReportSummary, kept: Kept, write: (text: string) => Promise<void>): Promise<void> {
  const { accounts, changes, previous, cap, readiness, trend } = kept;
  const s = scan.summary;
  const ex = s.exempted?.failsBySeverity ?? { high: 0, medium: 0, low: 0 };
  const unreadable = scan.coverage.subscriptions.filter((x) => x.status === 'unreadable');
  const failedTables = scan.coverage.tables.filter((t) => t.status === 'failed');
  const scope
    = scan.scope.subscriptions.length + scan.scope.managementGroups.length === 0
      ? 'whole tenant'
      : [...scan.scope.managementGroups.map((m) => `management group ${m}`), ...scan.scope.subscriptions.map((x) => `subscription ${x}`)].join(', ');

  const parts: string[] = [];
  parts.push(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(REPORT_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Perimeter audit ${esc(scan.scanId)}</title>
<style>${STYLE}</style></head><body>
<header><h1>Azure AI network perimeter audit</h1>
<p class="meta">scan <code>${esc(scan.scanId)}</code> · ${esc(scan.status)} · finished ${esc(scan.finishedAt)} · scope: ${esc(scope)} · deep inspection ${scan.scope.deepInspection ? 'on' : 'off'}</p></header>
<p class="headline${scan.status === 'partial' ? ' partial' : ''}" id="headline"><strong>${esc(summary.headline)}</strong>${scan.status === 'partial' ? ' · <strong>partial scan</strong>' : ''}<br><span id="coverage">Coverage: ${esc(summary.coverage.text)}</span></p>
<section class="cards">
<div class="card"><div class="n">${summary.accounts.total}</div><div class="l">accounts read (${summary.coverage.subscriptionsRead} of ${summary.coverage.subscriptionsInScope} subscriptions)</div></div>
<div class="card"><div class="n">${summary.accounts.compliantPercent === null ? '—' : `${summary.accounts.compliantPercent}%`}</div><div class="l">${summary.accounts.compliantPercent === null ? 'compliance: no account was read' : `compliant of accounts read (${summary.accounts.compliant}: no fail, no unknown)`}</div></div>
<div class="card"><div class="n o-fail">${s.bySeverity.high.fail - ex.high}</div><div class="l">high-severity fails${ex.high ? ` (+${ex.high} exempted)` : ''}</div></div>
<div class="card"><div class="n">${s.bySeverity.medium.fail - ex.medium}</div><div class="l">medium-severity fails${ex.medium ? ` (+${ex.medium} exempted)` : ''}</div></div>
<div class="card"><div class="n">${s.bySeverity.low.fail - ex.low}</div><div class="l">low-severity fails${ex.low ? ` (+${ex.low} exempted)` : ''}</div></div>
<div class="card"><div class="n o-unknown">${s.byOutcome.unknown}</div><div class="l">unknown (data not read)</div></div>
</section>`);
  if (trend) parts.push(trendSection(trend));
  if (scan.status === 'partial') {
    parts.push(`<section><h2>Coverage gaps</h2><p class="note">This scan is partial: some data could not be read. Verdicts that depend on it are <strong>unknown</strong>, never pass.</p><ul>
${unreadable.map((x) => `<li>subscription <code>${iso(x.id)}</code>${x.name ? ` (${iso(x.name)})` : ''} unreadable: ${iso(x.reason ?? '')}</li>`).join('')}
${failedTables.map((t) => `<li>table <code>${esc(t.type)}</code> not fully read: ${iso(t.reason ?? '')}</li>`).join('')}
${scan.coverage.problems.slice(0, 50).map((p) => `<li>${iso(p)}</li>`).join('')}
${scan.coverage.problems.length > 50 ? `<li>… ${scan.coverage.problems.length - 50} more in scan.json</li>` : ''}</ul></section>`);
  }
  if (changes && previous) {
    const { opened, resolved } = changes;
    parts.push(`<section id="changes"><h2>Since the previous scan</h2><p class="meta">compared with <code>${esc(previous.scanId)}</code> (finished ${esc(previous.finishedAt)}); a fail that turned unknown or not applicable is still open, and accounts of a subscription this scan could not read are not counted as resolved</p>
<h3>New since previous scan: ${opened.count}</h3>${opened.count ? `<table><thead><tr><th>account</th><th>rule</th><th>severity</th><th>outcome</th><th>message</th></tr></thead><tbody>${findingRows(opened.findings, true)}</tbody></table>${more(opened)}` : '<p>No new fails.</p>'}
<h3>Resolved since previous scan: ${resolved.count}</h3>${resolved.count ? `<table><thead><tr><th>account</th><th>rule</th><th>severity</th><th>was</th><th>message then</th></tr></thead><tbody>${findingRows(resolved.findings, true)}</tbody></table>${more(resolved)}` : '<p>No fails resolved.</p>'}
</section>`);
  }
  parts.push(readinessSection(readiness));
  parts.push(`<section id="chart"><h2>Outcomes by rule</h2>${chart(summary, scan)}</section>
<section id="rules"><h2>By rule</h2><table><thead><tr><th>rule</th><th>compliant state</th><th>severity</th><th>fail</th><th>unknown</th><th>pass</th><th>n/a</th><th>MCSB</th></tr></thead><tbody>
${scan.rules
  .map((r) => `<tr><td><strong>${esc(r.id)}</strong><br><small>${esc(r.slug)}</small></td><td>${esc(r.title)}</td><td class="sev-${esc(r.severity)}">${esc(r.severity)}</td>${counts(summary.byRule[r.id] ?? { pass: 0, fail: 0, unknown: 0, not_applicable: 0 })}<td>${esc(r.controls.mcsb.join(', '))}</td></tr>`)
  .join('\n')}
</tbody></table></section>
<section id="compliance"><h2>Compliance view</h2>
<h3>Microsoft cloud security benchmark v1</h3><table><thead><tr><th>control</th><th>rules</th><th>fail</th><th>unknown</th><th>pass</th><th>n/a</th></tr></thead><tbody>
${Object.entries(summary.byControl.mcsb)
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([control, c]) => `<tr><td>${esc(control)}</td><td>${esc(scan.rules.filter((r) => r.controls.mcsb.includes(control)).map((r) => r.id).join(', '))}</td>${counts(c)}</tr>`)
  .join('\n')}
</tbody></table>
<h3>CIS Microsoft Azure Foundations 7.16 — network security perimeter is used</h3>
${
  summary.byControl.cis['7.16']
    ? `<table><thead><tr><th>control</th><th>rules</th><th>fail</th><th>unknown</th><th>pass</th><th>n/a</th></tr></thead><tbody><tr><td>7.16</td><td>${esc(scan.rules.filter((r) => r.controls.cis.includes('7.16')).map((r) => r.id).join(', '))}</td>${counts(summary.byControl.cis['7.16'])}</tr></tbody></table><p class="meta">A manual control in other tools; automated here by NSP-01 (association) and NSP-02 (Enforced mode).</p>`
    : '<p>NSP-01 and NSP-02 did not run in this scan.</p>'
}
</section>
<section id="accounts"><h2>By account</h2>
<div class="filters"><input id="q" type="search" placeholder="Filter by account, kind, subscription, tag, rule or message" aria-label="filter accounts">
<select id="state" aria-label="account state"><option value="">all accounts</option><option value="fail">with fails</option><option value="unknown">with unknowns, no fail</option><option value="ok">compliant</option></select>
<select id="outcome" aria-label="with a finding of outcome"><option value="">any outcome</option>${ORDER.map((o) => `<option value="${o}">with a ${LABELS[o]} finding</option>`).join('')}</select>
<select id="severity" aria-label="with a finding of severity"><option value="">any severity</option>${SEVERITIES.map((sev) => `<option value="${sev}">of ${sev} severity</option>`).join('')}</select>
<select id="order" aria-label="order accounts by"><option value="risk">worst first</option><option value="name">by name</option><option value="subscription">by subscription</option></select>
<span id="shown"></span></div>
<p class="meta">Worst first: accounts with more high-severity fails, then medium, then low, then unknowns; compliant accounts last. Each fail shows its fix with the account's names filled in.</p>`);
  if (accounts.total > cap) {
    parts.push(`<p class="note">${accounts.total} accounts: this page shows the ${accounts.shown().length} worst of them. Every finding is in <code>report.csv</code> and <code>findings.ndjson</code> beside this report.</p>`);
  }
  parts.push('<div id="account-list">');
  await write(parts.join('\n'));
  const rules: RuleIndex = new Map(scan.rules.map((r) => [r.id, r]));
  for (const [rank, a] of accounts.shown().entries()) await write(`${accountBlock(a, rank, rules)}\n`);
  await write(
    `</div></section>
<footer><p class="meta">Generated by perimeter-auditor from <code>scan.json</code> and <code>findings.ndjson</code>. Outcomes: pass (read and compliant), fail (read and not compliant), unknown (data could not be read), not applicable.</p></footer>
<script>${FILTER_SCRIPT}</script>
</body></html>
`,
  );
}
