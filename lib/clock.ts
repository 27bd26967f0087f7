import { setTimeout as sleep } from 'node:timers/promises';

/** Time as a dependency, so tests can move it instead of waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => sleep(ms),
};
