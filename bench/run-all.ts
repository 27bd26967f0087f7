import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { hash } from 'bcryptjs';
import { startDynamoDbLocal } from '../local/dynamodb-local';
import { ROUTES } from '../local/server';
import { startSqsStandIn } from '../local/sqs-stand-in';
import { createTables } from '../local/tables';
import { runColdStart } from './cold-start';
import { type LoadResult, load } from './load';
import { machine, ms, replaceReadmeBlock, table, writeResult } from './report';
import { LIFTED_LIMITS, type ServiceProcess, startServiceProcess } from './service-process';
import { median } from './stats';
import { printTiming, runTimingBench } from './timing';

/**
 * `npm run bench`: latency and throughput, the bcrypt floor, cold start, calls per operation,
 * cost per million and the timing gap, all against the local server on DynamoDB Local, in one
 * run. Writes .bench/results.json and .bench/results.md; `--readme` also refreshes the README's
 * Performance block from this run, so no figure there is typed by hand.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { values } = parseArgs({ options: { readme: { type: 'boolean', default: false } } });
const started = performance.now();
const CONCURRENCY = [1, 10, 50] as const;
const log = (line: string) =>
  console.log(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s] ${line}`);

/** Fresh tokens, one per account (a newer request would invalidate an older token of the same account). */
async function prepareTokens(service: ServiceProcess, count: number, prefix: string): Promise<string[]> {
  const emails = await service.seed(count, prefix);
  await load({
    url: `${service.url}${ROUTES.request}`,
    concurrency: 50,
    amount: emails.length,
    body: (n) => ({ email: emails[n] }),
  });
  const links = (await service.outbox()).filter(
    (m) => m.template === 'password_reset' && m.to.startsWith(`${prefix}-`),
  );
  return links.map((m) => decodeURIComponent(new URL(m.link ?? '').hash.slice('#token='.length)));
}

async function requestLatency() {
  // The defaults: no response floor, the account's work in the worker.
  const service = await startServiceProcess({ ...LIFTED_LIMITS, BCRYPT_COST: '12' });
  try {
    const emails = await service.seed(25, 'latency');
    const runs: LoadResult[] = [];
    // Warm-up, not counted.
    await load({
      url: `${service.url}${ROUTES.request}`,
      concurrency: 10,
      amount: 50,
      body: (n) => ({ email: emails[n % 25] }),
    });
    for (const concurrency of CONCURRENCY) {
      // Half known accounts, half unknown, as a real mix would be.
      const body = (n: number) => ({
        email: n % 2 ? emails[n % emails.length] : `unknown-${n}@example.com`,
      });
      runs.push(
        await load({ url: `${service.url}${ROUTES.request}`, concurrency, amount: concurrency * 40, body }),
      );
    }
    log('request latency done');
    return runs;
  } finally {
    await service.stop();
  }
}

async function confirmLatency(cost: number) {
  const service = await startServiceProcess({
    ...LIFTED_LIMITS,
    BCRYPT_COST: String(cost),
    REQUEST_RESPONSE_FLOOR_MS: '0',
  });
  try {
    const amounts = cost >= 12 ? { 1: 12, 10: 30, 50: 100 } : { 1: 30, 10: 80, 50: 150 };
    const total = Object.values(amounts).reduce((a, b) => a + b, 0) + 5;
    const tokens = await prepareTokens(service, total, `confirm${cost}`);
    let next = 0;
    const body = () => ({ token: tokens[next++], newPassword: `benchmark passphrase ${next}` });
    for (let i = 0; i < 5; i++)
      await load({ url: `${service.url}${ROUTES.confirm}`, concurrency: 1, amount: 1, body });
    const runs: LoadResult[] = [];
    for (const concurrency of CONCURRENCY) {
      runs.push(
        await load({
          url: `${service.url}${ROUTES.confirm}`,
          concurrency,
          amount: amounts[concurrency],
          body,
        }),
      );
    }
    log(`confirm latency at bcrypt cost ${cost} done`);
    return runs;
  } finally {
    await service.stop();
  }
}

/** Median of sequential bare bcrypt hashes in this process. */
async function bcryptFloor(cost: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    await hash('a benchmark passphrase', cost);
    samples.push(performance.now() - t);
  }
  return median(samples);
}

/** The round trips of the request path, measured directly against DynamoDB Local and the SQS stand-in. */
async function dynamoRoundTrips() {
  const dynamo = await startDynamoDbLocal();
  const sqsStandIn = await startSqsStandIn({ jobs: {} });
  const sqs = new SQSClient({
    endpoint: sqsStandIn.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    await createTables(client, {
      tokenTable: 'bench-tokens',
      usersTable: 'bench-users',
      emailIndex: 'email-index',
    });
    await client.send(
      new PutItemCommand({
        TableName: 'bench-users',
        Item: { userId: { S: 'u1' }, email: { S: 'a@example.com' } },
      }),
    );
    const time = async (call: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < 60; i++) {
        const t = performance.now();
        await call();
        samples.push(performance.now() - t);
      }
      return median(samples.slice(10));
    };
    let i = 0;
    const update = () =>
      client.send(
        new UpdateItemCommand({
          TableName: 'bench-tokens',
          Key: { pk: { S: `rate#x#${i++ % 5}` } },
          UpdateExpression: 'ADD hits :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
        }),
      );
    const query = () =>
      client.send(
        new QueryCommand({
          TableName: 'bench-users',
          IndexName: 'email-index',
          KeyConditionExpression: 'email = :e',
          ExpressionAttributeValues: { ':e': { S: 'a@example.com' } },
        }),
      );
    const transact = () =>
      client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: 'bench-tokens', Item: { pk: { S: `token#${i++}` }, v: { S: 'x' } } } },
            {
              Put: {
                TableName: 'bench-tokens',
                Item: { pk: { S: 'active#u1' }, selector: { S: String(i) } },
              },
            },
          ],
        }),
      );
    const get = () =>
      client.send(
        new GetItemCommand({
          TableName: 'bench-tokens',
          Key: { pk: { S: 'active#u1' } },
          ConsistentRead: true,
        }),
      );
    const sendMessage = () =>
      sqs.send(new SendMessageCommand({ QueueUrl: sqsStandIn.queueUrl('jobs'), MessageBody: '{"job":1}' }));
    const roundTrips = {
      updateItem: await time(update),
      query: await time(query),
      transactWrite: await time(transact),
      getItem: await time(get),
      sendMessage: await time(sendMessage),
    };
    // The request path, the same for every address: the per-IP counter, then the job hand-off.
    const requestChain = roundTrips.updateItem + roundTrips.sendMessage;
    return { roundTrips, requestChainMs: requestChain };
  } finally {
    client.destroy();
    sqs.destroy();
    await sqsStandIn.stop();
    await dynamo.stop();
  }
}

/** DynamoDB calls and capacity units per operation (on the wire), and SSM calls per 1,000 requests. */
async function callsPerOperation() {
  // Production defaults for the per-account limits (two rules) and the 30 s kill-switch cache;
  // only the per-IP limits are lifted, since all load comes from one address.
  const service = await startServiceProcess({
    RATE_LIMIT_REQUEST_IP: LIFTED_LIMITS.RATE_LIMIT_REQUEST_IP,
    RATE_LIMIT_CONFIRM_IP: LIFTED_LIMITS.RATE_LIMIT_CONFIRM_IP,
    RATE_LIMIT_CONFIRM_FAILURES_IP: LIFTED_LIMITS.RATE_LIMIT_CONFIRM_FAILURES_IP,
    KILL_SWITCH_CACHE_SECONDS: '30',
    BENCH_COUNT_CALLS: '1',
    REQUEST_RESPONSE_FLOOR_MS: '0',
    BCRYPT_COST: '10',
  });
  try {
    const tokens = await prepareTokens(service, 25, 'calls');
    // One request per known account, so none is throttled by the per-account limit.
    const emails = await service.seed(40, 'calls-known');
    type Stats = {
      logBytes: number;
      dynamo: {
        calls: Record<string, number>;
        readUnits: Record<string, number>;
        writeUnits: Record<string, number>;
      };
      handled: Record<'worker' | 'sender', { batches: number; records: number; handlerMs: number }>;
    };
    const row = (name: string, stats: Stats, amount: number) => {
      const per = (record: Record<string, number>) =>
        Object.fromEntries(
          Object.entries(record).map(([op, count]) => [op, Number((count / amount).toFixed(2))]),
        );
      const sum = (record: Record<string, number>) =>
        Object.values(record).reduce((a, b) => a + b, 0) / amount;
      return {
        operation: name,
        calls: per(stats.dynamo.calls),
        readUnits: sum(stats.dynamo.readUnits),
        writeUnits: sum(stats.dynamo.writeUnits),
        logBytes: stats.logBytes / amount,
      };
    };
    const request = `${service.url}${ROUTES.request}`;
    const confirm = `${service.url}${ROUTES.confirm}`;
    /**
     * A request's own calls with the worker and sender held, then the worker's for those jobs with
     * the sender held, so each function's calls, capacity, logs and time are counted apart.
     */
    const measureReset = async (name: string, amount: number, body: (n: number) => unknown) => {
      await service.mappings({ worker: 'pause', sender: 'pause' });
      await service.reset();
      await load({ url: request, concurrency: 1, amount, body });
      const requestRow = row(`request, ${name}`, (await service.stats({ settle: false })) as Stats, amount);
      await service.reset();
      await service.mappings({ worker: 'resume' });
      await waitFor(
        async () => ((await service.stats({ settle: false })) as Stats).handled.worker.records >= amount,
      );
      const workerStats = (await service.stats({ settle: false })) as Stats;
      const workerRow = row(`worker, ${name}`, workerStats, amount);
      await service.mappings({ sender: 'resume' });
      await service.stats();
      const { handled } = workerStats;
      return [
        requestRow,
        {
          ...workerRow,
          handlerMsPerJob: handled.worker.handlerMs / handled.worker.records,
          jobsPerBatch: handled.worker.records / handled.worker.batches,
        },
      ];
    };
    const measure = async (name: string, amount: number, url: string, body: (n: number) => unknown) => {
      await service.reset();
      await load({ url, concurrency: 1, amount, body });
      return row(name, (await service.stats()) as Stats, amount);
    };
    const rows = [
      ...(await measureReset('known account', 20, (n) => ({ email: emails[n % 20] }))),
      ...(await measureReset('unknown account', 20, (n) => ({ email: `nobody-${n}@example.com` }))),
      await measure('confirm, valid token', 20, confirm, (n) => ({
        token: tokens[n],
        newPassword: `calls passphrase ${n}`,
      })),
      await measure('confirm, invalid token', 20, confirm, () => ({
        token: `${'A'.repeat(22)}.${'B'.repeat(43)}`,
        newPassword: 'x',
      })),
    ];
    // SSM calls over this process's whole life: the first job fetches, then the cache serves.
    const phaseStarted = performance.now();
    await load({
      url: request,
      concurrency: 20,
      amount: 1000,
      body: (n) => ({ email: n % 2 ? emails[20 + (n % 20)] : `nobody-${n}@example.com` }),
    });
    const ssm = {
      calls: Number((await service.stats()).ssmGetCalls),
      requests: 1000 + 4 * 20 + tokens.length,
      lastPhaseSeconds: (performance.now() - phaseStarted) / 1000,
    };
    log('calls per operation done');
    return { rows, ssm };
  } finally {
    await service.stop();
  }
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** us-east-1 list prices, typed from the AWS pricing pages as of the date given; not fetched at run time. */
const PRICES = {
  asOf: '2025-06 (AWS public pricing pages, us-east-1)',
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  httpApiPerMillionRequests: 1.0,
  dynamoPerMillionWriteUnits: 0.625,
  dynamoPerMillionReadUnits: 0.125,
  // Standard queue; a job is one SendMessage, and a share of one batched ReceiveMessage and DeleteMessageBatch.
  sqsPerMillionRequests: 0.4,
  cloudWatchLogsPerGbIngested: 0.5,
};

function costPerMillion(
  durationMs: number,
  memoryMb: number,
  row: { readUnits: number; writeUnits: number; logBytes: number },
  extra: { apiGateway?: boolean; sqsRequests?: number; invocations?: number } = {},
) {
  const lambda =
    (durationMs / 1000) * (memoryMb / 1024) * PRICES.lambdaArmPerGbSecond * 1e6 +
    PRICES.lambdaPerMillionRequests * (extra.invocations ?? 1);
  const dynamo =
    row.readUnits * PRICES.dynamoPerMillionReadUnits + row.writeUnits * PRICES.dynamoPerMillionWriteUnits;
  const logs = ((row.logBytes * 1e6) / 2 ** 30) * PRICES.cloudWatchLogsPerGbIngested;
  const apiGateway = extra.apiGateway === false ? 0 : PRICES.httpApiPerMillionRequests;
  const sqs = (extra.sqsRequests ?? 0) * PRICES.sqsPerMillionRequests;
  return { lambda, apiGateway, dynamo, sqs, logs, total: lambda + apiGateway + dynamo + sqs + logs };
}

// ---- the run ----
const context = machine();
log(`${context.cpu}, ${context.cores} cores, ${context.memoryGiB} GiB, Node ${context.node}`);
const cold = await runColdStart();
log('cold start done');
const requestRuns = await requestLatency();
const confirm10 = await confirmLatency(10);
const confirm12 = await confirmLatency(12);
const floor12 = { bcryptMedianMs: await bcryptFloor(12), ...(await dynamoRoundTrips()) };
const floor10 = { bcryptMedianMs: await bcryptFloor(10) };
log('floors done');
const calls = await callsPerOperation();
const timing = existsSync('.bench/timing.json')
  ? {
      source: '.bench/timing.json (npm run bench:timing)',
      ...JSON.parse(readFileSync('.bench/timing.json', 'utf8')),
    }
  : {
      source: 'this run (300 per group)',
      ...(await runTimingBench({ perGroup: 300, concurrency: 8, accounts: 30 })),
    };
log('timing gap done');

const requestC1 = requestRuns[0] as LoadResult;
const confirm12C1 = confirm12[0] as LoadResult;
const knownRequest = calls.rows[0] as (typeof calls.rows)[number];
const knownJob = calls.rows[1] as (typeof calls.rows)[number] & {
  handlerMsPerJob: number;
  jobsPerBatch: number;
};
const validConfirm = calls.rows[4] as (typeof calls.rows)[number];
// The worker's Lambda time per job is its handler time on this machine, batch shares included.
const requestOnly = costPerMillion(requestC1.p50, 256, knownRequest, { sqsRequests: 1 });
const worker = costPerMillion(knownJob.handlerMsPerJob, 256, knownJob, {
  apiGateway: false,
  sqsRequests: 2 / knownJob.jobsPerBatch,
  invocations: 1 / knownJob.jobsPerBatch,
});
const cost = {
  prices: PRICES,
  request: { ...requestOnly, worker: worker.total, total: requestOnly.total + worker.total },
  worker,
  confirm: costPerMillion(confirm12C1.p50, 1024, validConfirm),
};

const results = {
  machine: context,
  config: {
    responseFloorMs: 0,
    bcryptCosts: [10, 12],
    requestMemoryMb: 256,
    workerMemoryMb: 256,
    confirmMemoryMb: 1024,
    server: 'one Node process (bench/serve.ts), load from autocannon in another',
  },
  coldStart: cold,
  request: requestRuns,
  confirm: { 'bcrypt 10': confirm10, 'bcrypt 12': confirm12 },
  floors: {
    bcrypt12MedianMs: floor12.bcryptMedianMs,
    bcrypt10MedianMs: floor10.bcryptMedianMs,
    confirm12MedianMs: confirm12C1.p50,
    confirm12OverheadMs: confirm12C1.p50 - floor12.bcryptMedianMs,
    confirm10OverheadMs: (confirm10[0] as LoadResult).p50 - floor10.bcryptMedianMs,
    dynamoRoundTripsMs: floor12.roundTrips,
    requestChainMs: floor12.requestChainMs,
    requestMedianMs: requestC1.p50,
    requestOverChain: requestC1.p50 / floor12.requestChainMs,
  },
  calls,
  cost,
  timing,
  elapsedSeconds: (performance.now() - started) / 1000,
};

const loadRows = (name: string, runs: LoadResult[]) =>
  runs.map((r) => [
    name,
    r.concurrency,
    r.requests,
    ms(r.p50),
    ms(r.p95),
    ms(r.p99),
    r.requestsPerSecond.toFixed(1),
    r.errors,
  ]);
const markdown = [
  `Measured ${context.date.slice(0, 10)} on ${context.cpu} (${context.cores} cores, ${context.memoryGiB} GiB), Node ${context.node}, by \`npm run bench\` in ${results.elapsedSeconds.toFixed(0)} s. One local server process on DynamoDB Local; load from autocannon in a separate process.`,
  '',
  '```',
  table(
    ['endpoint', 'conc.', 'n', 'p50', 'p95', 'p99', 'req/s', 'errors'],
    [
      ...loadRows('request', requestRuns),
      ...loadRows('confirm, bcrypt 10', confirm10),
      ...loadRows('confirm, bcrypt 12', confirm12),
    ],
  ),
  '```',
  '',
  `- bcrypt floor: a bare hash takes ${ms(floor12.bcryptMedianMs)} at cost 12 and ${ms(floor10.bcryptMedianMs)} at cost 10; confirm's own overhead above it (median at concurrency 1) is ${ms(results.floors.confirm12OverheadMs)} at cost 12 and ${ms(results.floors.confirm10OverheadMs)} at cost 10.`,
  `- One process hashes one password at a time, so its confirm throughput tops out near 1 / bcrypt time: ${(1000 / floor12.bcryptMedianMs).toFixed(1)}/s at cost 12 and ${(1000 / floor10.bcryptMedianMs).toFixed(1)}/s at cost 10. Past that, requests queue; errors at concurrency 50 are 503s from the local adapter's 10 s function budget. On Lambda each concurrent confirm gets its own container.`,
  `- Request at concurrency 1: median ${ms(requestC1.p50)}, ${results.floors.requestOverChain.toFixed(2)} × the ${ms(floor12.requestChainMs)} of its own two round trips measured directly (the per-IP UpdateItem ${ms(floor12.roundTrips.updateItem)}, the job's SendMessage ${ms(floor12.roundTrips.sendMessage)}; target 1.25 ×: ${results.floors.requestOverChain <= 1.25 ? 'met' : 'not met'}). The same two calls for every address; the account's work (Query ${ms(floor12.roundTrips.query)}, TransactWriteItems ${ms(floor12.roundTrips.transactWrite)} and the rest) is the worker's, ${ms(knownJob.handlerMsPerJob)} of handler time per known-account job here, ${knownJob.jobsPerBatch.toFixed(1)} jobs per batch.`,
  `- Cold start (import of the bundle minus \`node -e 0\` at ${ms(cold.nodeBaselineMedianMs)}, median of ${cold.runs}): ${cold.bundles
    .map(
      (b) =>
        `${b.handler} with SDK ${b.sdk} ${ms(b.importMinusBaselineMs)} (${(b.bytes / 1024).toFixed(0)} KiB, ${(b.gzipBytes / 1024).toFixed(0)} KiB gzipped)`,
    )
    .join('; ')}.`,
  `- DynamoDB per operation (calls; read/write units as DynamoDB Local reports them, with the default per-account limits; DynamoDB bills a transactional write at 2 WRU per item, which may be more than reported here): ${calls.rows
    .map(
      (r) =>
        `${r.operation}: ${Object.entries(r.calls)
          .map(([op, n]) => `${n} ${op}`)
          .join(', ')} (${r.readUnits.toFixed(1)} RRU, ${r.writeUnits.toFixed(1)} WRU)`,
    )
    .join(
      '; ',
    )}. SSM GetParameter: ${calls.ssm.calls} call(s) for the ${calls.ssm.requests} requests this process served (30 s kill-switch cache).`,
  `- Cost per million, at list prices ${PRICES.asOf}: request $${cost.request.total.toFixed(2)} with its worker job (request: Lambda $${cost.request.lambda.toFixed(2)} at 256 MB for ${ms(requestC1.p50)}, HTTP API $${cost.request.apiGateway.toFixed(2)}, DynamoDB $${cost.request.dynamo.toFixed(2)}, SQS $${cost.request.sqs.toFixed(2)}, logs $${cost.request.logs.toFixed(2)} for ${knownRequest.logBytes.toFixed(0)} bytes; worker, for a known account: $${cost.worker.total.toFixed(2)}, of which Lambda $${cost.worker.lambda.toFixed(2)} at 256 MB, DynamoDB $${cost.worker.dynamo.toFixed(2)}, SQS $${cost.worker.sqs.toFixed(2)}, logs $${cost.worker.logs.toFixed(2)}; target $5: ${cost.request.total <= 5 ? 'met' : 'not met'}); confirm $${cost.confirm.total.toFixed(2)} (Lambda $${cost.confirm.lambda.toFixed(2)} at 1024 MB for ${ms(confirm12C1.p50)}, HTTP API $${cost.confirm.apiGateway.toFixed(2)}, DynamoDB $${cost.confirm.dynamo.toFixed(2)}, logs $${cost.confirm.logs.toFixed(2)} for ${validConfirm.logBytes.toFixed(0)} bytes). Durations are this machine's; Lambda's ARM CPU share at those sizes differs. The email sender's cost is the same in both designs and not counted (target $10 for confirm: ${cost.confirm.total <= 10 ? 'met' : 'not met'}).`,
  `- Timing gap, known vs unknown account (${timing.source}): medians ${ms(timing.existing.median)} vs ${ms(timing.unknown.median)}, gap ${ms(timing.medianGapMs)}, p90 ${ms(timing.existing.p90)} vs ${ms(timing.unknown.p90)}, Mann-Whitney p = ${timing.mannWhitney.p.toFixed(3)}, KS p = ${timing.kolmogorovSmirnov.p.toFixed(3)}.`,
].join('\n');

console.log(`\n${markdown}\n`);
if (!timing.source.startsWith('.bench')) printTiming(timing);
writeResult('results', results);
writeFileSync('.bench/results.md', `${markdown}\n`);
if (values.readme) {
  replaceReadmeBlock('bench', markdown);
  log('README Performance block updated');
}
log(`wrote .bench/results.json and .bench/results.md in ${results.elapsedSeconds.toFixed(0)} s`);
