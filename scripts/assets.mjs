// Copies the data files that compiled modules read at run time from beside themselves, which tsc
// does not emit: the simulator's tenants (src/simulator/tenants → dist/src/simulator/tenants).
// Runs after tsc in `npm run build`; the copy replaces the previous one, so a deleted file goes too.
import { cpSync, rmSync } from 'node:fs';

for (const dir of ['src/simulator/tenants']) {
  rmSync(`dist/${dir}`, { recursive: true, force: true });
  cpSync(dir, `dist/${dir}`, { recursive: true });
}
