/** CI sizes by default; `npm run test:stress` (STRESS=1) raises every count. */
export const STRESS = process.env.STRESS === '1';

export const SIZES = STRESS
  ? {
      tokens: 200,
      confirmsPerToken: 40,
      concurrentRequests: 60,
      interleavedRounds: 150,
      fuzzRuns: 20_000,
      soakSeconds: 180,
      timeoutMs: 900_000,
    }
  : {
      tokens: 50,
      confirmsPerToken: 20,
      concurrentRequests: 20,
      interleavedRounds: 30,
      fuzzRuns: 2_000,
      soakSeconds: 0,
      timeoutMs: 120_000,
    };

/** One summary line per suite, printed in both modes so CI logs carry the counts too. */
export function report(name: string, figures: Record<string, number | string>): void {
  const text = Object.entries(figures)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  console.log(`[reliability] ${name}: ${text}`);
}
