import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RULES } from '../src/rules/index.js';

/**
 * Renders the rule catalog as the README's Markdown table, from the rule metadata, and writes it
 * between the `<!-- rules:start -->` and `<!-- rules:end -->` markers (`npm run docs:rules`).
 * The meta-test fails when the README's table differs from this output.
 */

export const START = '<!-- rules:start -->';
export const END = '<!-- rules:end -->';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function renderRuleTable(): string {
  const lines = [
    '| ID | slug | compliant state | severity | default | applies to | MCSB | Azure Policy | PSRule for Azure | azqr |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of RULES) {
    lines.push(
      `| ${r.id} | \`${r.slug}\` | ${cell(r.title)} | ${r.severity} | ${r.enabledByDefault ? 'on' : 'off'}${r.deepInspection ? ' (deep)' : ''} | ${cell(r.appliesToText)} | ${r.controls.mcsb.join(', ')}${r.controls.cis.length ? `; CIS ${r.controls.cis.join(', ')}` : ''} | ${cell(r.anchors.azurePolicy)} | ${cell(r.anchors.psrule)} | ${cell(r.anchors.azqr)} |`,
    );
  }
  return lines.join('\n');
}

/** Replaces the table between the markers in `readme`. @throws Error when the markers are missing. */
export function withRuleTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end === -1 || end < start) throw new Error(`README has no ${START} … ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n${renderRuleTable()}\n${readme.slice(end)}`;
}

const invoked = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (invoked) {
  const readmePath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');
  const readme = await readFile(readmePath, 'utf8');
  await writeFile(readmePath, withRuleTable(readme), 'utf8');
  process.stdout.write(`rule table written to ${readmePath}\n`);
}
