import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Cold start (issue: scale): the time to import the Function App's entry in a fresh Node process,
 * unbundled (tsc output, modules resolved from node_modules) and bundled (esbuild, one file).
 * Median of `--runs` fresh processes each (default 9). Prints figures; asserts nothing.
 *
 *   npm run bench:coldstart [-- --runs 9]
 */
const i = process.argv.indexOf('--runs');
const RUNS = i >= 0 ? Number(process.argv[i + 1]) : 9;
const entries = { unbundled: 'dist/src/functionsEntry.js', bundled: 'dist/bundle/functions.mjs' };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
console.log('| entry | file | import time, median (ms) | min (ms) | max (ms) |');
console.log('|---|---|---|---|---|');
for (const [name, file] of Object.entries(entries)) {
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const t = performance.now(); await import('./${file}'); process.stdout.write("\\nimport-ms=" + (performance.now() - t));`], { stdio: ['ignore', 'pipe', 'ignore'] });
    times.push(Number(/import-ms=([\d.]+)/.exec(out.toString())?.[1]));
  }
  console.log(`| ${name} | \`${file}\` | ${median(times).toFixed(0)} | ${Math.min(...times).toFixed(0)} | ${Math.max(...times).toFixed(0)} |`);
}
console.log(`\n${RUNS} fresh processes each, Node ${process.version}`);
