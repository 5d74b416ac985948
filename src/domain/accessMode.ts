const MODE_STRENGTH: Readonly<Record<string, number>> = { enforced: 3, learning: 2, transition: 2, audit: 1 };

/**
 * Rank of a perimeter association's access mode (RULES.md, "Perimeter facts": the effective mode is
 * the strongest): Enforced 3 > Learning (Transition) 2 > Audit 1 > anything else 0. Case-insensitive.
 */
export function modeStrength(mode: string): number {
  return MODE_STRENGTH[mode.toLowerCase()] ?? 0;
}

/** The rank of Learning (Transition) mode, where NSP-07 measures readiness. */
export const LEARNING_STRENGTH = 2;
