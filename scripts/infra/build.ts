import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { type Bicep, type Diagnostic, runBicep } from './compiler.js';
import type { BicepSession } from './rpc.js';

/**
 * `npm run infra:build`: infra/ compiled and linted by Microsoft's Bicep compiler. The templates that are
 * deployed are compiled to ARM JSON under dist/infra/ (git-ignored: CI compiles, nothing compiled is
 * committed); every .bicep file of infra/ is linted with the compiler's default rules (and
 * infra/bicepconfig.json where there is one). Any error or warning fails the build. A stamp beside the
 * templates records the compiler and a digest of the sources, so that the drift check refuses templates
 * compiled from other sources than the ones checked out.
 */

/** The templates that are deployed: main.bicep (`azd provision`) and the management-group one (the postprovision hook). */
export const TEMPLATES = {
  main: { source: 'infra/main.bicep', output: 'dist/infra/main.json' },
  managementGroup: { source: 'infra/modules/readermanagementgroup.bicep', output: 'dist/infra/readermanagementgroup.json' },
} as const;

export type TemplateName = keyof typeof TEMPLATES;

/** The stamp written after a clean build (dist/infra/build.json). */
export const STAMP = 'dist/infra/build.json';

/** An ARM template (deploymentTemplate.json schema), as compiled; the parts the drift check reads. */
export interface ArmTemplate {
  readonly $schema: string;
  readonly parameters?: Readonly<Record<string, { readonly type: string; readonly defaultValue?: unknown; readonly allowedValues?: readonly unknown[] }>>;
  readonly resources: unknown;
  readonly outputs?: Readonly<Record<string, unknown>>;
  readonly metadata?: { readonly _generator?: { readonly name: string; readonly version: string } };
}

/** The compiled templates, by name. */
export type Templates = Readonly<Record<TemplateName, ArmTemplate>>;

interface Stamp {
  /** Version of the compiler that built the templates. */
  readonly compiler: string;
  /** {@link sourcesDigest} of the sources they were built from. */
  readonly sources: string;
  /** Files linted, relative to the project root. */
  readonly linted: readonly string[];
}

/** Thrown when dist/infra/ is missing or was built from other sources; the message says to run infra:build. */
export class StaleBuildError extends Error {}

/** Folders of infra/ whose files the compiled templates do not depend on: the azd hooks, the compiler's restore project. */
const NOT_COMPILED = ['infra/hooks', 'infra/tools'];

/**
 * The files of infra/ the compiled templates depend on, relative to `root`, sorted: .bicep, bicepconfig.json,
 * and the files Bicep loads into the templates (loadTextContent: the workbook, the Sentinel rule's query),
 * with main.parameters.json; not the hooks or the compiler's restore project.
 */
export function infraSources(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = posix.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!NOT_COMPILED.includes(rel)) visit(rel);
      } else {
        out.push(rel);
      }
    }
  };
  if (existsSync(join(root, 'infra'))) visit('infra');
  return out.sort();
}

/** SHA-256 (hex) over the paths and contents of {@link infraSources}. */
export function sourcesDigest(root: string): string {
  const hash = createHash('sha256');
  for (const f of infraSources(root)) hash.update(f).update('\0').update(readFileSync(join(root, f))).update('\0');
  return hash.digest('hex');
}

/** What a build found. */
export interface BuildReport {
  /** Every diagnostic, once (the compiler and the linter may both report one). */
  readonly diagnostics: readonly Diagnostic[];
  readonly errors: number;
  readonly warnings: number;
  /** Files linted, relative to the project root (none when a template did not compile). */
  readonly linted: readonly string[];
  /** Anything else the compiler printed. */
  readonly output: string;
}

function unique(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Map<string, Diagnostic>();
  for (const d of diagnostics) seen.set(`${d.file}:${d.line}:${d.column}:${d.code}`, d);
  return [...seen.values()];
}

function report(diagnostics: readonly Diagnostic[], linted: readonly string[], output: string): BuildReport {
  const all = unique(diagnostics);
  return {
    diagnostics: all,
    errors: all.filter((d) => d.level === 'Error').length,
    warnings: all.filter((d) => d.level === 'Warning').length,
    linted,
    output,
  };
}

/**
 * Compiles and lints infra/ of the checkout at `root` with the command-line compiler: `bicep build
 * <template> --outfile dist/infra/<name>.json` for each of {@link TEMPLATES}, then `bicep lint --pattern
 * 'infra/**\/*.bicep'`. Writes {@link STAMP} only when there is no error and no warning (and removes a
 * previous one otherwise). Never throws for what the compiler finds: the report counts it.
 * @throws Error when the compiler cannot be started.
 */
export function buildInfra(root: string, bicep: Bicep): BuildReport {
  rmSync(join(root, STAMP), { force: true });
  const diagnostics: Diagnostic[] = [];
  const output: string[] = [];
  for (const t of Object.values(TEMPLATES)) {
    mkdirSync(dirname(join(root, t.output)), { recursive: true });
    const run = runBicep(bicep, ['build', t.source, '--outfile', t.output], root);
    diagnostics.push(...run.diagnostics);
    if (run.output) output.push(run.output);
    if (run.code !== 0) {
      // Errors: the template was not written; linting the rest would only repeat them.
      rmSync(join(root, t.output), { force: true });
      if (!run.diagnostics.some((d) => d.level === 'Error')) output.push(`bicep build ${t.source} exited ${run.code}`);
      return report(diagnostics, [], output.join('\n'));
    }
  }
  const linted = infraSources(root).filter((f) => f.endsWith('.bicep'));
  const lint = runBicep(bicep, ['lint', '--pattern', 'infra/**/*.bicep'], root);
  diagnostics.push(...lint.diagnostics);
  if (lint.output) output.push(lint.output);
  const result = report(diagnostics, linted, output.join('\n'));
  if (lint.code !== 0 && result.errors === 0) return { ...result, errors: 1, output: `${result.output}\nbicep lint exited ${lint.code}`.trim() };
  if (result.errors === 0 && result.warnings === 0) {
    const stamp: Stamp = { compiler: bicep.version, sources: sourcesDigest(root), linted };
    writeFileSync(join(root, STAMP), `${JSON.stringify(stamp, null, 2)}\n`);
  }
  return result;
}

/**
 * The templates `npm run infra:build` wrote for the checkout at `root`.
 * @throws StaleBuildError when there are none, the last build failed, or infra/ changed since.
 */
export function readBuiltTemplates(root: string): { templates: Templates; compiler: string } {
  const stampPath = join(root, STAMP);
  if (!existsSync(stampPath)) throw new StaleBuildError(`${STAMP} is missing (no clean build of infra/): run \`npm run infra:build\` first`);
  const stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as Stamp;
  if (stamp.sources !== sourcesDigest(root)) throw new StaleBuildError('infra/ changed since the last `npm run infra:build`: run it again');
  const read = (name: TemplateName): ArmTemplate => JSON.parse(readFileSync(join(root, TEMPLATES[name].output), 'utf8')) as ArmTemplate;
  return { templates: { main: read('main'), managementGroup: read('managementGroup') }, compiler: stamp.compiler };
}

/**
 * Compiles {@link TEMPLATES} of the checkout at `root` through a running compiler (the tests: one process
 * for many compiles). No linting, nothing written.
 * @returns the templates, or the errors when one does not compile.
 */
export async function compileTemplates(root: string, session: BicepSession): Promise<{ templates: Templates } | { errors: string[] }> {
  const out: Partial<Record<TemplateName, ArmTemplate>> = {};
  const errors: string[] = [];
  for (const [name, t] of Object.entries(TEMPLATES) as Array<[TemplateName, (typeof TEMPLATES)[TemplateName]]>) {
    const r = await session.compile(join(root, t.source));
    for (const d of r.diagnostics) {
      if (d.level === 'Error') errors.push(`${posix.relative(root, d.source)}(${d.range.start.line + 1},${d.range.start.char + 1}) : Error ${d.code}: ${d.message}`);
    }
    if (r.success && r.contents) out[name] = JSON.parse(r.contents) as ArmTemplate;
  }
  if (errors.length > 0 || !out.main || !out.managementGroup) return { errors: errors.length > 0 ? errors : ['a template did not compile'] };
  return { templates: { main: out.main, managementGroup: out.managementGroup } };
}

/** One diagnostic as a line, with the file relative to `root`. */
export function formatDiagnostic(root: string, d: Diagnostic): string {
  const file = d.file.startsWith(root) ? posix.relative(root, d.file) : d.file;
  return `${file}(${d.line},${d.column}) : ${d.level} ${d.code}: ${d.message}`;
}
