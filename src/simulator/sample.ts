import { fileURLToPath } from 'node:url';
import { loadTenant, type SimulatorTenant } from './server.js';

/**
 * The sample tenant (the README's demo tenant): raw ARM JSON fixtures in `tenants/sample/` beside
 * this module. Resolved from this module's own location, so it is the source folder under vitest and
 * `dist/src/simulator/tenants/sample/` when compiled (`npm run build` copies it there: scripts/assets.mjs).
 */
export const SAMPLE_TENANT_DIR = fileURLToPath(new URL('./tenants/sample/', import.meta.url));

export function sampleTenant(): Promise<SimulatorTenant> {
  return loadTenant(SAMPLE_TENANT_DIR);
}
