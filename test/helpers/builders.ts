/** The snapshot builders are shared with the engine benchmark: scripts/lib/builders.ts. */
export * from '../../scripts/lib/builders.js';
