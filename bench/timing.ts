import { parseArgs } from 'node:util';
import { ROUTES } from '../local/server';
import { machine, ms, replaceReadmeBlock, table, writeResult } from './report';
import { LIFTED_LIMITS, startServiceProcess } from './service-process';
import { kolmogorovSmirnov, mannWhitneyU, median, percentile } from './stats';
import { codeTimingMarkdown, printCodeTiming, runCodeTimingBench } from './timing-code';

/**
 * `npm run bench:timing`: does the request endpoint's response time reveal whether an account
 * exists? Sends interleaved requests for existing and unknown addresses to the local server (in
 * its own process, on DynamoDB Local, at the defaults) and compares the two latency
 * distributions. Existing accounts then take the worker's full path: token write and email.
 */
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    accounts: { type: 'string', default: '50' },
    readme: { type: 'boolean', default: false },
    // DynamoDB behind the delaying proxy (local/delay-proxy.ts), this many ms each way.
    'store-delay-ms': { type: 'string', default: '0' },
  },
});
const perGroup = Number(values.requests);
const concurrency = Number(values.concurrency);

export async function runTimingBench(
  options: { perGroup: number; concurrency: number; accounts: number; storeDelayMs?: number } = {
    perGroup,
    concurrency,
    accounts: Number(values.accounts),
    storeDelayMs: Number(values['store-delay-ms']),
  },
) {
  const storeDelayMs = options.storeDelayMs ?? 0;
  // Limits lifted so every existing-account request sends mail: the branch most unlike the unknown one.
  const service = await startServiceProcess({
    ...LIFTED_LIMITS,
    ...(storeDelayMs > 0 ? { LOCAL_STORE_DELAY_MS: String(storeDelayMs) } : {}),
  });
  try {
    const existing = await service.seed(options.accounts, 'timing');
    const plan: Array<{ group: 'existing' | 'unknown'; email: string }> = [];
    for (let i = 0; i < options.perGroup; i++) {
      plan.push({ group: 'existing', email: existing[i % existing.length] as string });
      plan.push({ group: 'unknown', email: `nobody-${i}@example.com` });
    }
    const send = async (email: string) => {
      const started = performance.now();
      const response = await fetch(`${service.url}${ROUTES.request}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
      });
      const body = await response.text();
      return { ms: performance.now() - started, status: response.status, body };
    };

    // Warm-up: JIT, connection pools, DynamoDB Local's own warm-up. Not counted.
    for (let i = 0; i < 40; i++) await send(i % 2 ? (existing[0] as string) : `warmup-${i}@example.com`);
    // The warm-up's jobs are worked after their answers: let them finish before counting starts.
    await service.stats();
    await service.reset();

    const samples = { existing: [] as number[], unknown: [] as number[] };
    const bodies = new Set<string>();
    const statuses = new Set<number>();
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < plan.length) {
          const item = plan[next++] as (typeof plan)[number];
          const result = await send(item.email);
          samples[item.group].push(result.ms);
          bodies.add(result.body);
          statuses.add(result.status);
        }
      }),
    );
    const elapsedSeconds = (performance.now() - started) / 1000;
    const stats = await service.stats();

    const mw = mannWhitneyU(samples.existing, samples.unknown);
    const ks = kolmogorovSmirnov(samples.existing, samples.unknown);
    const result = {
      machine: machine(),
      config: {
        floorMs: 0,
        perGroup: options.perGroup,
        concurrency: options.concurrency,
        accounts: options.accounts,
        storeDelayMs,
      },
      existing: {
        n: samples.existing.length,
        median: median(samples.existing),
        p90: percentile(samples.existing, 90),
        p99: percentile(samples.existing, 99),
      },
      unknown: {
        n: samples.unknown.length,
        median: median(samples.unknown),
        p90: percentile(samples.unknown, 90),
        p99: percentile(samples.unknown, 99),
      },
      medianGapMs: median(samples.existing) - median(samples.unknown),
      mannWhitney: mw,
      kolmogorovSmirnov: ks,
      distinctStatuses: [...statuses],
      distinctBodies: bodies.size,
      emailsSent: (stats.delivered as Record<string, number>).password_reset ?? 0,
      jobDeadLetters: stats.jobDeadLetters,
      suppressedBy: stats.suppressedBy,
      elapsedSeconds,
    };
    // Every existing-account request must have been mailed once, slow store or not.
    const everyKnownMailed = result.emailsSent === samples.existing.length;
    const target = Math.abs(result.medianGapMs) < 1 && mw.p >= 0.01 && everyKnownMailed;
    return { ...result, everyKnownMailed, meetsTarget: target };
  } finally {
    await service.stop();
  }
}

/** The README's timing block, from a run's figures. */
export function timingMarkdown(result: Awaited<ReturnType<typeof runTimingBench>>): string {
  const row = (name: string, g: { n: number; median: number; p90: number; p99: number }) =>
    `| ${name} | ${g.n} | ${ms(g.median)} | ${ms(g.p90)} | ${ms(g.p99)} |`;
  return [
    `Measured ${result.machine.date.slice(0, 10)} by \`npm run bench:timing\` on ${result.machine.cpu} (${result.machine.cores} cores), Node ${result.machine.node}: ${result.config.perGroup} known and ${result.config.perGroup} unknown requests, interleaved, ${result.config.concurrency} at a time, no response floor${result.config.storeDelayMs > 0 ? `, DynamoDB slowed ${result.config.storeDelayMs} ms each way (LOCAL_STORE_DELAY_MS)` : ''}.`,
    '',
    '| group | n | median | p90 | p99 |',
    '|---|---|---|---|---|',
    row('known account', result.existing),
    row('unknown account', result.unknown),
    '',
    `Median gap ${ms(result.medianGapMs)}; Mann-Whitney U p = ${result.mannWhitney.p.toFixed(3)}, Kolmogorov-Smirnov p = ${result.kolmogorovSmirnov.p.toFixed(3)} (target: gap under 1 ms, p >= 0.01 and every known account mailed: ${result.meetsTarget ? 'met' : 'NOT met'}). Statuses: ${result.distinctStatuses.join(', ')}; distinct bodies: ${result.distinctBodies}; reset emails sent: ${result.emailsSent} of ${result.existing.n} known-account requests; job dead letters: ${result.jobDeadLetters}.`,
  ].join('\n');
}

export function printTiming(result: Awaited<ReturnType<typeof runTimingBench>>): void {
  console.log(
    table(
      ['group', 'n', 'median', 'p90', 'p99'],
      [
        [
          'existing account',
          result.existing.n,
          ms(result.existing.median),
          ms(result.existing.p90),
          ms(result.existing.p99),
        ],
        [
          'unknown account',
          result.unknown.n,
          ms(result.unknown.median),
          ms(result.unknown.p90),
          ms(result.unknown.p99),
        ],
      ],
    ),
  );
  console.log(`median gap (existing - unknown): ${ms(result.medianGapMs)}`);
  console.log(
    `Mann-Whitney U: U=${result.mannWhitney.u.toFixed(0)}, z=${result.mannWhitney.z.toFixed(3)}, p=${result.mannWhitney.p.toFixed(4)}`,
  );
  console.log(
    `Kolmogorov-Smirnov: D=${result.kolmogorovSmirnov.d.toFixed(4)}, p=${result.kolmogorovSmirnov.p.toFixed(4)}`,
  );
  console.log(
    `statuses ${result.distinctStatuses.join(',')}; distinct bodies ${result.distinctBodies}; reset emails sent ${result.emailsSent} of ${result.existing.n} known-account requests; job dead letters ${result.jobDeadLetters}; store delay ${result.config.storeDelayMs} ms each way`,
  );
  console.log(
    `target (|gap| < 1 ms, p >= 0.01, every known account mailed): ${result.meetsTarget ? 'met' : 'NOT met'}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runTimingBench();
  console.log(
    `\nRequest timing: existing vs unknown accounts (${result.machine.cpu}, ${result.machine.cores} cores, Node ${result.machine.node})`,
  );
  printTiming(result);
  console.log(`written to ${writeResult('timing', result)} in ${result.elapsedSeconds.toFixed(0)} s`);
  if (values.readme) replaceReadmeBlock('timing', timingMarkdown(result));
  // Code mode: confirm on a phantom flow against a real flow with a wrong code.
  const code = await runCodeTimingBench({ perGroup, concurrency });
  printCodeTiming(code);
  console.log(`written to ${writeResult('timing-code', code)}`);
  if (values.readme) replaceReadmeBlock('timing-code', codeTimingMarkdown(code));
}
