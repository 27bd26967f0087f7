import type { Clock } from '../../lib/clock';

/**
 * A clock that only moves when told to. sleep() advances it at once, so floors cost no real time.
 * It starts at the real present: DynamoDB Local runs a TTL reaper on its own clock, and an item
 * whose TTL is already in the past can vanish mid-test.
 */
export function manualClock(start = Date.now()): Clock & { advance(ms: number): void; slept: number[] } {
  let now = start;
  const slept: number[] = [];
  return {
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
    slept,
  };
}

/** Deterministic "random" bytes: a counter, so each token differs and tests can repeat. */
export function sequentialRandom(seed = 1): (size: number) => Uint8Array {
  let counter = seed;
  return (size) => {
    const bytes = new Uint8Array(size);
    bytes.fill(counter++ % 256);
    return bytes;
  };
}
