import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ROUTES } from '../local/server';
import { machine, ms, replaceReadmeBlock, table, writeResult } from './report';
import { LIFTED_LIMITS, startServiceProcess } from './service-process';
import { kolmogorovSmirnov, mannWhitneyU, median, percentile } from './stats';

/**
 * The code-confirm comparison of `npm run bench:timing`: does confirm's response time tell a
 * phantom flow (an address with no account) from a real flow with a wrong code? Requests code
 * flows for existing and unknown addresses, then sends wrong-code confirms to both, interleaved,
 * and compares the two latency distributions. Each flow takes 4 wrong codes (its budget is 5), so
 * every confirm takes the full path: attempt charge, account charge, comparison.
 */
const CONFIRMS_PER_FLOW = 4;
const NEW_PASSWORD = 'purple monkey dishwasher rodeo';

export async function runCodeTimingBench(options = { perGroup: 1000, concurrency: 8 }) {
  const flowsPerGroup = Math.ceil(options.perGroup / CONFIRMS_PER_FLOW);
  const service = await startServiceProcess({
    ...LIFTED_LIMITS,
    RATE_LIMIT_CODE_FAILURES_ACCOUNT: '100000000/1h',
    RESET_METHODS: 'link,code',
    // Only the request phase (not measured) sees it: time enough to store every real flow.
    REQUEST_RESPONSE_FLOOR_MS: '1500',
  });
  try {
    const post = async (path: string, body: unknown) => {
      const started = performance.now();
      const response = await fetch(`${service.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      return { ms: performance.now() - started, status: response.status, text };
    };
    const pool = async <T>(items: T[], work: (item: T) => Promise<void>, width = options.concurrency) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: width }, async () => {
          while (next < items.length) await work(items[next++] as T);
        }),
      );
    };
    const flowFor = async (email: string) => {
      const answer = await post(ROUTES.request, { email, method: 'code' });
      if (answer.status !== 200) throw new Error(`request answered ${answer.status}`);
      return JSON.parse(answer.text).flowId as string;
    };

    const known = await service.seed(flowsPerGroup + 10, 'code-timing');
    const unknown = known.map((_, i) => `nobody-code-${i}@example.com`);
    const realByEmail = new Map<string, string>();
    const phantom: string[] = [];
    // The request phase is not measured: wide, so the 1.5 s floor does not make it slow.
    await pool(unknown, async (email) => void phantom.push(await flowFor(email)), 32);
    // A real flow exists only if its code went out: on a loaded machine the account work can overrun
    // its deadline (and the service then, correctly, stores nothing). Ask again until every one did.
    let missing = known;
    for (let round = 0; round < 5 && missing.length > 0; round++) {
      await pool(missing, async (email) => void realByEmail.set(email, await flowFor(email)), 32);
      const mailed = new Set(
        (await service.outbox()).filter((m) => m.template === 'password_reset_code').map((m) => m.to),
      );
      missing = known.filter((email) => !mailed.has(email));
    }
    if (missing.length > 0) throw new Error(`${missing.length} known accounts never got a code`);
    const flows = { real: [...realByEmail.values()], phantom };
    const stats = await service.stats();
    const codesSent = (stats.delivered as Record<string, number>).password_reset_code ?? 0;

    // Warm-up on the 10 extra flows of each group: JIT, connection pools, DynamoDB Local. Not counted.
    const confirm = (flowId: string) =>
      post(ROUTES.confirm, {
        flowId,
        code: String(randomInt(0, 1e8)).padStart(8, '0'),
        newPassword: NEW_PASSWORD,
      });
    for (let i = 0; i < 10; i++)
      for (const group of ['real', 'phantom'] as const) await confirm(flows[group].pop() as string);

    const plan: Array<{ group: 'real' | 'phantom'; flowId: string }> = [];
    for (let round = 0; round < CONFIRMS_PER_FLOW; round++)
      for (let i = 0; i < flowsPerGroup; i++)
        for (const group of ['real', 'phantom'] as const)
          plan.push({ group, flowId: flows[group][i] as string });
    const samples = { real: [] as number[], phantom: [] as number[] };
    const bodies = new Set<string>();
    const statuses = new Set<number>();
    const started = performance.now();
    await pool(plan, async (item) => {
      const result = await confirm(item.flowId);
      samples[item.group].push(result.ms);
      bodies.add(result.text);
      statuses.add(result.status);
    });
    const elapsedSeconds = (performance.now() - started) / 1000;

    const summary = (values: number[]) => ({
      n: values.length,
      median: median(values),
      p90: percentile(values, 90),
      p99: percentile(values, 99),
    });
    const mw = mannWhitneyU(samples.real, samples.phantom);
    const ks = kolmogorovSmirnov(samples.real, samples.phantom);
    const medianGapMs = median(samples.real) - median(samples.phantom);
    return {
      machine: machine(),
      config: { flowsPerGroup, confirmsPerFlow: CONFIRMS_PER_FLOW, concurrency: options.concurrency },
      real: summary(samples.real),
      phantom: summary(samples.phantom),
      medianGapMs,
      mannWhitney: mw,
      kolmogorovSmirnov: ks,
      distinctStatuses: [...statuses],
      distinctBodies: bodies.size,
      codesSent,
      elapsedSeconds,
      meetsTarget: Math.abs(medianGapMs) < 1 && mw.p >= 0.01,
    };
  } finally {
    await service.stop();
  }
}

export type CodeTimingResult = Awaited<ReturnType<typeof runCodeTimingBench>>;

export function codeTimingMarkdown(result: CodeTimingResult): string {
  const row = (name: string, g: CodeTimingResult['real']) =>
    `| ${name} | ${g.n} | ${ms(g.median)} | ${ms(g.p90)} | ${ms(g.p99)} |`;
  return [
    `Measured ${result.machine.date.slice(0, 10)} by \`npm run bench:timing\` on ${result.machine.cpu} (${result.machine.cores} cores), Node ${result.machine.node}: wrong-code confirms, ${result.config.flowsPerGroup} real and ${result.config.flowsPerGroup} phantom flows, ${result.config.confirmsPerFlow} each, interleaved, ${result.config.concurrency} at a time.`,
    '',
    '| flow | n | median | p90 | p99 |',
    '|---|---|---|---|---|',
    row('real flow, wrong code', result.real),
    row('phantom flow', result.phantom),
    '',
    `Median gap ${ms(result.medianGapMs)}; Mann-Whitney U p = ${result.mannWhitney.p.toFixed(3)}, Kolmogorov-Smirnov p = ${result.kolmogorovSmirnov.p.toFixed(3)} (target: gap under 1 ms and p >= 0.01: ${result.meetsTarget ? 'met' : 'NOT met'}). Statuses: ${result.distinctStatuses.join(', ')}; distinct bodies: ${result.distinctBodies}; codes emailed to the real flows: ${result.codesSent}.`,
  ].join('\n');
}

export function printCodeTiming(result: CodeTimingResult): void {
  console.log(
    `\nCode confirm timing: real flow with a wrong code vs phantom flow (${result.machine.cpu}, ${result.machine.cores} cores, Node ${result.machine.node})`,
  );
  const row = (name: string, g: CodeTimingResult['real']) => [name, g.n, ms(g.median), ms(g.p90), ms(g.p99)];
  console.log(
    table(
      ['flow', 'n', 'median', 'p90', 'p99'],
      [row('real, wrong code', result.real), row('phantom', result.phantom)],
    ),
  );
  console.log(`median gap (real - phantom): ${ms(result.medianGapMs)}`);
  console.log(
    `Mann-Whitney U: U=${result.mannWhitney.u.toFixed(0)}, z=${result.mannWhitney.z.toFixed(3)}, p=${result.mannWhitney.p.toFixed(4)}`,
  );
  console.log(
    `Kolmogorov-Smirnov: D=${result.kolmogorovSmirnov.d.toFixed(4)}, p=${result.kolmogorovSmirnov.p.toFixed(4)}`,
  );
  console.log(
    `statuses ${result.distinctStatuses.join(',')}; distinct bodies ${result.distinctBodies}; codes emailed ${result.codesSent} (every real flow's code was)`,
  );
  console.log(`target (|gap| < 1 ms and p >= 0.01): ${result.meetsTarget ? 'met' : 'NOT met'}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '8' },
      readme: { type: 'boolean', default: false },
    },
  });
  const result = await runCodeTimingBench({
    perGroup: Number(values.requests),
    concurrency: Number(values.concurrency),
  });
  printCodeTiming(result);
  console.log(`written to ${writeResult('timing-code', result)} in ${result.elapsedSeconds.toFixed(0)} s`);
  if (values.readme) replaceReadmeBlock('timing-code', codeTimingMarkdown(result));
}
