import { defineConfig } from 'vitest/config';

/**
 * The test suite (README: "Tests"). Tests run from their TypeScript sources; what they start as a
 * child process (the CLI, the function invoker, the Functions bundle) is the compiled JavaScript
 * under dist/, which `npm test` builds first (test/helpers/paths.ts names those entry points).
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['dist/**', 'node_modules/**'],
    // Child processes, not threads: several tests set process.env (the Functions handlers read
    // their settings from it), and each file gets its own process and module state.
    pool: 'forks',
    // The machine has two cores; integration files each start Azurite and the HTTPS simulator.
    maxWorkers: 2,
    // Generous: an integration test starts Azurite and scans through the simulator, and a loaded
    // machine may be slow; no test relies on this limit to pass.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
