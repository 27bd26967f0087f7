import type { Clock } from '../../lib/clock';

/**
 * A clock that only moves when told to. sleep() advances it at once, so floors cost no real time.
 * It starts at the real present: DynamoDB Local runs a TTL reaper on its own clock, and an item
 * whose TTL is already in the past can vanish mid-test.
 */
export function manualClock(start = Date.now()): Clock & { advance(ms: number): void; slept: number[] } {
  let now = start;
  const slept: number[] = [];
  const deadlines: Array<{ at: number; controller: AbortController }> = [];
  const fire = () => {
    for (const deadline of deadlines) if (deadline.at <= now) deadline.controller.abort();
  };
  return {
    now: () => now,
    // Aborts only when the test moves the clock past it, never on the machine's own time.
    timeout: (ms) => {
      const controller = new AbortController();
      deadlines.push({ at: now + ms, controller });
      return controller.signal;
    },
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
    advance: (ms) => {
      now += ms;
      fire();
    },
    slept,
  };
}

/**
 * Deterministic "random" bytes: every call is distinct (a 32-bit counter up front, a fixed
 * pattern after), so tokens repeat across runs but never within one.
 */
export function sequentialRandom(seed = 1): (size: number) => Uint8Array {
  let counter = seed;
  return (size) => {
    const bytes = new Uint8Array(size).fill(0xa5);
    new DataView(bytes.buffer).setUint32(0, counter++);
    return bytes;
  };
}
