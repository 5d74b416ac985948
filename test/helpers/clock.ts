/**
 * A fake clock for code that takes `now` and `sleep` (the throttling policy, webhook delivery, the
 * simulator's quota): `sleep` advances the time at once and records the wait, so a test of waits
 * and windows runs in no time and the same on any machine.
 */
export interface FakeClock {
  /** The current time (ms since the epoch). */
  readonly now: () => number;
  /** Advances the time by `ms` and records the wait. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Jitter source: always the middle. */
  readonly random: () => number;
  /** Every wait asked for, in order (ms). */
  readonly waits: number[];
}

export function fakeClock(start = Date.parse('2026-11-21T03:00:00Z')): FakeClock {
  let t = start;
  const waits: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      waits.push(ms);
      t += ms;
    },
    random: () => 0.5,
    waits,
  };
}
