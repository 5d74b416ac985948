import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';

/**
 * Production code and the scripts never import from test/ (issue 16): what `npm run demo`, a benchmark
 * or the Functions app runs must not depend on test code. Every module under src/, functions/ and
 * scripts/ is read with TypeScript's own import scanner (static imports, `export … from`, `import()`,
 * `require()`, `import x = require()`, `typeof import()`; comments and strings are not imports), and
 * every relative, absolute or `file:` specifier is resolved against the importing file.
 */

const CODE = /\.(?:[cm]?ts|[cm]?js)$/;
const TEST_DIR = join(ROOT, 'test');

/** The specifiers of `text` that resolve into test/, for a module at `file`. */
function importsFromTest(file: string, text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName).filter((specifier) => {
    const target = specifier.startsWith('file:') ? fileURLToPath(specifier)
      : specifier.startsWith('.') ? resolve(dirname(file), specifier)
        : isAbsolute(specifier) ? specifier
          : undefined;
    if (target === undefined) return false; // a package
    const rel = relative(TEST_DIR, target);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  });
}

function modulesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((f) => CODE.test(f)).map((f) => join(ROOT, dir, f));
}

describe('imports', () => {
  it('the import check sees every way of importing from test/, and nothing else', () => {
    const file = join(ROOT, 'src', 'demo.ts');
    const flagged = [
      'import { withSimulator } from \'../test/helpers/sample.js\';',
      'import type { Row } from "../test/simulator/server.js";',
      'export { ROOT } from \'../test/helpers/paths.js\';',
      'export * from \'../test/helpers/builders.js\';',
      'import \'../test/setup.js\';',
      'const m = await import(\'../test/simulator/server.js\');',
      'const m = await import(\n  `../test/simulator/server.js`\n);',
      'const m = require(\'../test/helpers/spawn.js\');',
      'type T = typeof import(\'../test/helpers/sample.js\');',
      `import x from '${join(ROOT, 'test', 'helpers', 'paths.js')}';`,
      `import x from '${new URL(`file://${join(ROOT, 'test', 'x.js')}`).href}';`,
      'import x from \'./../test\';', // the folder itself
    ];
    for (const text of flagged) assert.equal(importsFromTest(file, text).length, 1, `not flagged: ${text}`);
    const clean = [
      'import { faultPoint } from \'./testing/faults.js\';', // src/testing is not test/
      'import { x } from \'../tests-elsewhere/x.js\';',
      'import { describe } from \'vitest\';',
      'import { x } from \'test\';', // a package named test
      '// import { x } from \'../test/x.js\';',
      'const s = "import x from \'../test/x.js\'";',
      'const p = join(root, \'test\', \'fixtures\');',
    ];
    for (const text of clean) assert.deepEqual(importsFromTest(file, text), [], `flagged: ${text}`);
  });

  it('nothing under src/, functions/ or scripts/ imports from test/', () => {
    const modules = ['src', 'functions', 'scripts'].flatMap(modulesUnder);
    assert.ok(modules.length > 50, `only ${modules.length} modules found under src/, functions/ and scripts/`);
    const offending = modules.flatMap((file) => importsFromTest(file, readFileSync(file, 'utf8')).map((s) => `${relative(ROOT, file).split(sep).join('/')}: ${s}`));
    assert.deepEqual(offending, [], 'production code and scripts must not import from test/ (move what they need to src/ or scripts/lib/)');
  });
});
