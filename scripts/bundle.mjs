// Bundles the Function App into one ESM file with esbuild (cold start: one file to read and parse
// instead of hundreds of modules under node_modules). Input: tsc's output; output: dist/bundle/functions.mjs.
// `@azure/functions-core` is provided by the Functions host at run time and stays external.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/functionsEntry.js'],
  outfile: 'dist/bundle/functions.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  external: ['@azure/functions-core'],
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: 'import { createRequire as __cr } from \'node:module\'; const require = __cr(import.meta.url);' },
  logLevel: 'warning',
});
