import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileTemplates, type Templates } from '../../scripts/infra/build.js';
import { checkInfra, readInfraSources } from '../../scripts/infra/check.js';
import { type Bicep, BicepNotFoundError, findBicep } from '../../scripts/infra/compiler.js';
import type { BicepSession } from '../../scripts/infra/rpc.js';
import { ROOT } from '../helpers/paths.js';

/**
 * The Bicep compiler for test/infra: the pinned one (restored when missing), else one on PATH. Without
 * one the compiler tests are skipped with the reason in their name — except under CI=true, where a test
 * fails instead (CI's machines have the .NET SDK, so a missing compiler there is a broken install step).
 */
export const found: { readonly bicep?: Bicep; readonly reason?: string } = (() => {
  try {
    return { bicep: findBicep(ROOT) };
  } catch (err) {
    if (!(err instanceof BicepNotFoundError)) throw err;
    return { reason: err.message };
  }
})();

/** The title of a describe block that needs the compiler: with the reason it is skipped, when it is. */
export function needsCompiler(title: string): string {
  return found.bicep ? title : `${title} (skipped: ${found.reason})`;
}

/** `npm run infra:build` compiled (scripts/infra-build.ts); `npm test` builds it first. */
export const INFRA_BUILD = join(ROOT, 'dist', 'scripts', 'infra-build.js');

/** A change to one file: the first match of `from` becomes `to` (`$1` and the like work with a RegExp). */
export type Mutation = readonly [path: string, from: string | RegExp, to: string];

/**
 * A copy of the checkout's infra/, azure.yaml and functions/resourceChanged.ts in a temporary folder, with
 * `mutations` applied; each must change its file (a mutation that no longer applies is a stale test).
 * @returns the folder; remove it with rmSync.
 */
export function mutatedCopy(mutations: readonly Mutation[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'pa-infra-'));
  cpSync(join(ROOT, 'infra'), join(dir, 'infra'), { recursive: true, filter: (src) => !/[\\/]infra[\\/]tools[\\/](obj|bin)$/.test(src) });
  cpSync(join(ROOT, 'azure.yaml'), join(dir, 'azure.yaml'));
  cpSync(join(ROOT, 'functions', 'resourceChanged.ts'), join(dir, 'functions', 'resourceChanged.ts'), { recursive: true });
  for (const [path, from, to] of mutations) {
    const file = join(dir, path);
    const before = readFileSync(file, 'utf8');
    const after = before.replace(from, to);
    assert.notEqual(after, before, `the mutation of ${path} (${String(from)}) applies`);
    writeFileSync(file, after);
  }
  return dir;
}

/** What the compiler and the drift check make of a checkout: compile errors, or the check's problems. */
export type Verdict = { readonly errors: string[] } | { readonly problems: string[]; readonly templates: Templates };

/** Compiles `root`'s infra/ with the running compiler and, when it compiles, runs the drift check on it. */
export async function verdict(root: string, session: BicepSession): Promise<Verdict> {
  const compiled = await compileTemplates(root, session);
  if ('errors' in compiled) return compiled;
  return { problems: await checkInfra({ root, sources: readInfraSources(root), templates: compiled.templates, session }), templates: compiled.templates };
}

/** The verdict on the checkout with `mutations` applied (compiled for real, in a temporary copy). */
export async function verdictOfMutation(session: BicepSession, ...mutations: Mutation[]): Promise<Verdict> {
  const dir = mutatedCopy(mutations);
  try {
    return await verdict(dir, session);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
