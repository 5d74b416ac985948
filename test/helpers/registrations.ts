import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENTRY } from './paths.js';
import { runNode } from './spawn.js';

/**
 * What the deployment bundle registers with the Functions host, read the way the host reads it:
 * `@azure/functions` hands each registration to `@azure/functions-core`, a module the host
 * provides at run time (scripts/bundle.mjs keeps it external). Here a stand-in of that module,
 * found through NODE_PATH, prints each registration's metadata (name and bindings, with the HTTP
 * trigger's `authLevel`) instead of serving it.
 */

export interface Binding {
  readonly type: string;
  readonly direction: string;
  readonly authLevel?: string;
  readonly route?: string;
  readonly methods?: string[];
}

export interface Registration {
  readonly name: string;
  readonly bindings: Record<string, Binding>;
}

const MARK = 'REGISTERED ';

const STAND_IN = `
exports.setProgrammingModel = () => {};
exports.registerHook = () => ({ dispose() {} });
exports.log = () => {};
exports.registerFunction = (metadata) => {
  process.stdout.write(${JSON.stringify(MARK)} + JSON.stringify({ name: metadata.name, bindings: metadata.bindings }) + '\\n');
  return { dispose() {} };
};
`;

/** Loads dist/bundle/functions.mjs in a child process and returns every function it registered. */
export async function bundleRegistrations(): Promise<Registration[]> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-functions-core-'));
  try {
    await mkdir(join(dir, '@azure', 'functions-core'), { recursive: true });
    await writeFile(join(dir, '@azure', 'functions-core', 'index.js'), STAND_IN);
    const run = await runNode(ENTRY.functionsBundle, [], { env: { NODE_PATH: dir } });
    if (run.code !== 0) throw new Error(`the bundle did not load: ${run.output}`);
    return run.stdout
      .split('\n')
      .filter((l) => l.startsWith(MARK))
      .map((l) => JSON.parse(l.slice(MARK.length)) as Registration);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
