import { setTimeout as sleep } from 'node:timers/promises';

/** Time as a dependency, so tests can move it instead of waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** A signal that aborts after `ms` on this clock: deadlines follow the same time as floors. */
  timeout(ms: number): AbortSignal;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => sleep(ms),
  timeout: (ms) => AbortSignal.timeout(ms),
};
