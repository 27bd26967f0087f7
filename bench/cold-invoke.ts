import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { build } from 'esbuild';
import { loadConfig } from '../lib/config';
import { toApiGatewayEvent } from '../local/api-gateway';
import { LOCAL_AWS_ENV, startDynamoDbLocal } from '../local/dynamodb-local';
import { startEventSourceMapping } from '../local/event-source-mapping';
import {
  EMAIL_QUEUES,
  JOB_QUEUES,
  LOCAL_DEFAULTS,
  localQueues,
  queueEnvironment,
  ROUTES,
} from '../local/server';
import { startSqsStandIn } from '../local/sqs-stand-in';
import { startSsmStandIn } from '../local/ssm-stand-in';
import { createTables } from '../local/tables';
import { LocalAccounts } from '../local/users';
import { bundle, checkout, THIS_TREE, treeAt } from './bundles';
import type { Invocation, InvocationReport } from './cold-invoke-child';
import {
  type CpuLimit,
  createCpuLimit,
  FULL_VCPU_MB,
  lambdaCpuShare,
  noCpuLimit,
  PERIOD_US,
} from './cpu-limit';
import { machine, table, writeResult } from './report';
import { mannWhitneyU, median } from './stats';

/**
 * `npm run bench:cold-invoke [-- --before <ref>] [--runs N] [--memory 256,1024] [--json]`: what a
 * cold container does with its first request. Every invocation is a fresh Node process inside a
 * CPU quota of the share a Lambda function of that memory size gets, importing the deployed
 * bundle (the stack's esbuild options) and serving exactly one event against a warm DynamoDB Local
 * and the local SQS and SSM stand-ins. Each reset is then followed to its email: where the design
 * has a reset worker, the job is worked by another fresh, CPU-limited process importing the
 * worker bundle, fed one SQSEvent by the local event source mapping; the email queue (no sender
 * runs) then holds the rendered email, or not. Known and unknown addresses alternate, one fresh
 * account and one source IP per request, so no rate limit is ever what is measured.
 */
const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    runs: { type: 'string', default: '8' },
    memory: { type: 'string', default: '256,1024' },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const MEMORY_MB = (values.memory ?? '').split(',').map((value) => Number(value.trim()));
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 50) throw new Error('--runs must be 1 to 50');
if (MEMORY_MB.some((mb) => !Number.isInteger(mb) || mb < 128 || mb > FULL_VCPU_MB))
  throw new Error(`--memory takes sizes from 128 to ${FULL_VCPU_MB} MB, e.g. 256,1024`);

// Not counted: JIT and first-call paths of DynamoDB Local and the stand-ins, at full CPU.
const WARMUP_PER_KIND = 2;
// Each invocation is killed if it outlives its function timeout by this much.
const KILL_GRACE_MS = 20_000;
// How long a reset may take to reach the email queue (worker retries included) before it counts as lost.
const FOLLOW_MS = 60_000;
const REQUEST_TIMEOUT_MS = 10_000;
const WORKER_TIMEOUT_MS = 30_000;

type Kind = 'known' | 'unknown';

interface Design {
  label: string;
  request: string;
  /** The reset worker's bundle, in designs that hand the account's work to a queue. */
  worker: string | undefined;
}

interface ColdRun {
  report: InvocationReport | undefined;
  /** Exit code or signal, when the process did not report. */
  failure?: string;
  /** Audit lines and warnings from the function's log: what it did with the account. */
  log: string[];
  throttledMs: number | undefined;
}

interface Attempt {
  share: number;
  design: string;
  kind: Kind;
  email: string;
  sourceIp: string;
  request: ColdRun;
  status: number | undefined;
  workers: ColdRun[];
  emails: number;
  /** From starting the request's process to the email being on the queue. */
  emailQueuedAfterMs: number | undefined;
  followed: boolean;
}

const log = (line: string) => process.stderr.write(`[cold-invoke] ${line}\n`);

async function designs(): Promise<Design[]> {
  const trees = [{ label: 'after', root: THIS_TREE.root }];
  if (values.before) trees.unshift({ label: `before (${values.before})`, root: checkout(values.before) });
  const out: Design[] = [];
  for (const { label, root } of trees) {
    const tree = await treeAt(root);
    const dir = resolve('.bench/cold-invoke', label.replace(/\W+/g, '-'));
    const request = await bundle('functions/request-reset.ts', join(dir, 'request'), false, tree);
    const worker = existsSync(join(root, 'functions/reset-worker.ts'))
      ? await bundle('functions/reset-worker.ts', join(dir, 'worker'), false, tree)
      : undefined;
    out.push({ label, request, worker });
  }
  return out;
}

/** The child entry, bundled once: plain Node runs it, so no TypeScript loader runs inside the limit. */
async function buildChild(): Promise<string> {
  const outfile = resolve('.bench/cold-invoke/child.mjs');
  await build({
    entryPoints: ['bench/cold-invoke-child.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: THIS_TREE.bundling.target,
    logLevel: 'silent',
  });
  return outfile;
}

const running = new Set<ChildProcess>();
const killRunning = () => {
  for (const child of running) child.kill('SIGKILL');
};

/** One fresh process, one event; killed by its PID if it outlives its timeout. */
async function invokeCold(
  childFile: string,
  env: NodeJS.ProcessEnv,
  limit: CpuLimit,
  invocation: Invocation,
): Promise<ColdRun> {
  // A full period first, so no process starts on what the one before it left of the quota.
  if (limit.limited) await sleep(PERIOD_US / 1000);
  const { command, args } = limit.wrap(process.execPath, [childFile]);
  const throttledBefore = limit.throttledMs();
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  running.add(child);
  const chunks = { out: [] as Buffer[], err: [] as Buffer[], report: [] as Buffer[] };
  child.stdout?.on('data', (chunk: Buffer) => chunks.out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => chunks.err.push(chunk));
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => chunks.report.push(chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), invocation.timeoutMs + KILL_GRACE_MS);
  child.stdin?.end(JSON.stringify(invocation));
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      const text = Buffer.concat(chunks.report).toString('utf8');
      const report = text ? (JSON.parse(text) as InvocationReport) : undefined;
      const throttledAfter = limit.throttledMs();
      resolve({
        report,
        ...(report
          ? {}
          : {
              failure: `exit ${signal ?? code}: ${Buffer.concat(chunks.err).toString('utf8').trim().slice(-300)}`,
            }),
        log: outcomes(Buffer.concat(chunks.out).toString('utf8')),
        throttledMs:
          throttledBefore === undefined || throttledAfter === undefined
            ? undefined
            : throttledAfter - throttledBefore,
      });
    });
  });
}

/** The audit events (with their reason) and the warnings and errors of a Powertools log. */
function outcomes(stdout: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { message?: unknown; level?: unknown; audit?: { reason?: unknown } };
      if (typeof entry.message !== 'string') continue;
      if (entry.audit) {
        if (entry.message === 'reset_requested') continue;
        out.push(entry.audit.reason ? `${entry.message}: ${String(entry.audit.reason)}` : entry.message);
      } else if (entry.level === 'WARN' || entry.level === 'ERROR') out.push(entry.message);
    } catch {}
  }
  return out;
}

const jobEmail = (body: string) => (JSON.parse(body) as { email?: string }).email;

/** The API Gateway v2 event the local rig would build for this POST from this address. */
function requestEvent(email: string, sourceIp: string) {
  const body = Buffer.from(JSON.stringify({ email }));
  return toApiGatewayEvent(
    {
      url: ROUTES.request,
      method: 'POST',
      httpVersion: '1.1',
      headers: {
        host: '127.0.0.1:3000',
        'content-type': 'application/json',
        'content-length': String(body.length),
        'user-agent': 'cold-invoke',
      },
      socket: { remoteAddress: sourceIp },
    },
    body,
  );
}

const stats = (values: number[]) =>
  values.length === 0
    ? undefined
    : { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };

export async function runColdInvoke() {
  const load = { start: loadavg(), end: [] as number[] };
  // The local event source mapping's SQS client reads its region and credentials from here.
  Object.assign(process.env, LOCAL_AWS_ENV, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  const designList = await designs();
  const childFile = await buildChild();
  const dynamo = await startDynamoDbLocal();
  const stops: Array<() => Promise<void> | void> = [() => dynamo.stop()];
  const stopAll = async () => {
    killRunning();
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined);
    stops.length = 0;
  };
  const onSignal = () => {
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const ssm = await startSsmStandIn({
      [LOCAL_DEFAULTS.KILL_SWITCH_PARAMETER_NAME as string]: JSON.stringify({ enabled: true, dryRun: false }),
    });
    stops.push(() => ssm.stop());
    const sqs = await startSqsStandIn(localQueues(LOCAL_DEFAULTS));
    stops.push(() => sqs.stop());
    // What startLocalServer gives the functions, as their own environment instead of its process's.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      ...LOCAL_AWS_ENV,
      ...LOCAL_DEFAULTS,
      ...queueEnvironment(sqs),
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const config = loadConfig(env);
    const raw = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: LOCAL_AWS_ENV.AWS_REGION,
      credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: 'local' },
    });
    stops.push(() => raw.destroy());
    await createTables(raw, {
      tokenTable: config.tokenTableName,
      usersTable: config.usersTableName,
      emailIndex: config.usersEmailIndexName,
      tokenStream: config.passwordChangedEvents,
    });
    const accounts = new LocalAccounts(DynamoDBDocumentClient.from(raw), config);

    // The worker runs as deployed, one batch at a time, each in its own fresh process.
    let current: { design: Design; limit: CpuLimit; attempt: Attempt } | undefined;
    const mapping = startEventSourceMapping({
      queueUrl: sqs.queueUrl(JOB_QUEUES.queue),
      queueArn: sqs.queueArn(JOB_QUEUES.queue),
      endpoint: sqs.endpoint,
      functionName: 'password-reset-worker',
      batchSize: 1,
      concurrency: 1,
      handler: async (event: SQSEvent) => {
        const email = event.Records[0] && jobEmail(event.Records[0].body);
        if (!current?.design.worker || email !== current.attempt.email) {
          // A job outlived the attempt it belongs to: dropped, so it is never counted for another.
          log('dropped a job left from an earlier attempt');
          return { batchItemFailures: [] };
        }
        const run = await invokeCold(childFile, env, current.limit, {
          bundle: current.design.worker,
          functionName: 'password-reset-worker',
          timeoutMs: WORKER_TIMEOUT_MS,
          event,
        });
        current.attempt.workers.push(run);
        if (!run.report || run.report.error) throw new Error(run.report?.error ?? run.failure);
        return run.report.result as SQSBatchResponse | undefined;
      },
      onError: (error) => log(`worker batch left on the queue: ${String(error).slice(0, 200)}`),
    });
    stops.push(() => mapping.stop());

    const emailsTo = (email: string) =>
      sqs
        .messages(EMAIL_QUEUES.queue)
        .filter((message) => (JSON.parse(message.body) as { to?: string }).to === email);

    let serial = 0;
    const plan = (count: number) => {
      const items: Array<{ kind: Kind; email: string; sourceIp: string; design: Design }> = [];
      for (let i = 0; i < count; i++) {
        for (const kind of ['known', 'unknown'] as const) {
          // Designs interleaved, so before and after see the same machine load.
          for (const design of designList) {
            const n = serial++;
            items.push({
              kind,
              design,
              email: kind === 'known' ? `cold-${n}@example.com` : `nobody-${n}@example.com`,
              // Each in its own /24, so neither the per-IP nor the per-network limit is ever shared.
              sourceIp: `10.${Math.floor(n / 256) % 256}.${n % 256}.7`,
            });
          }
        }
      }
      return items;
    };

    const attempt = async (
      item: ReturnType<typeof plan>[number],
      share: number,
      limit: CpuLimit,
    ): Promise<Attempt> => {
      const record: Attempt = {
        share,
        design: item.design.label,
        kind: item.kind,
        email: item.email,
        sourceIp: item.sourceIp,
        request: { report: undefined, log: [], throttledMs: undefined },
        status: undefined,
        workers: [],
        emails: 0,
        emailQueuedAfterMs: undefined,
        followed: false,
      };
      current = { design: item.design, limit, attempt: record };
      const startedAt = Date.now();
      record.request = await invokeCold(childFile, env, limit, {
        bundle: item.design.request,
        functionName: 'password-reset-request',
        timeoutMs: REQUEST_TIMEOUT_MS,
        event: requestEvent(item.email, item.sourceIp),
      });
      record.status = (record.request.report?.result as { statusCode?: number } | undefined)?.statusCode;
      // Follow the reset until nothing of it is left to run: the job queue drained, no worker running.
      const deadline = Date.now() + FOLLOW_MS;
      await sleep(50);
      const pending = () => sqs.messages(JOB_QUEUES.queue).some((m) => jobEmail(m.body) === item.email);
      while (pending() || mapping.inFlight > 0) {
        if (Date.now() > deadline) break;
        await sleep(10);
      }
      record.followed = Date.now() <= deadline;
      const emails = emailsTo(item.email);
      record.emails = emails.length;
      const first = emails[0];
      record.emailQueuedAfterMs = first ? first.sentAt - startedAt : undefined;
      current = undefined;
      return record;
    };

    const warmup = plan(WARMUP_PER_KIND);
    const measured = MEMORY_MB.map(() => plan(RUNS));
    log(`seeding ${[...warmup, ...measured.flat()].filter((item) => item.kind === 'known').length} accounts`);
    for (const item of [...warmup, ...measured.flat()])
      if (item.kind === 'known') await accounts.create(item.email, 'correct horse battery staple', 4);

    const none = noCpuLimit('warm-up');
    log(`warm-up: ${warmup.length} invocations at full CPU, not counted`);
    for (const item of warmup) await attempt(item, 1, none);

    const attempts: Attempt[] = [];
    const limits: Array<{
      memoryMb: number;
      share: number;
      mechanism: string;
      limited: boolean;
      reason?: string;
    }> = [];
    for (const [index, memoryMb] of MEMORY_MB.entries()) {
      const share = lambdaCpuShare(memoryMb);
      const limit = createCpuLimit(`cold-invoke-${process.pid}-${memoryMb}`, share);
      stops.push(() => limit.remove());
      limits.push({
        memoryMb,
        share,
        mechanism: limit.mechanism,
        limited: limit.limited,
        ...(limit.reason ? { reason: limit.reason } : {}),
      });
      log(`${memoryMb} MB: ${(share * 100).toFixed(1)}% of one vCPU, ${limit.mechanism}`);
      for (const item of measured[index] ?? []) {
        const record = await attempt(item, share, limit);
        attempts.push(record);
        log(
          `${memoryMb} MB ${item.design.label} ${item.kind}: answer ${record.request.report?.answerMs.toFixed(1) ?? record.request.failure} ms, ${record.emails} email(s)`,
        );
      }
      // Only a worker that outlived its attempt can still be in the cgroup.
      killRunning();
      limit.remove();
      stops.pop();
    }
    load.end = loadavg();
    const summary = summarize(attempts, designList, limits);
    return {
      machine: machine(),
      command: `npm run bench:cold-invoke -- ${process.argv.slice(2).join(' ')}`.trim(),
      loadAverage: load,
      runsPerKind: RUNS,
      warmupPerKind: WARMUP_PER_KIND,
      periodUs: PERIOD_US,
      limits,
      summary,
      knownVsUnknown: gaps(summary, attempts),
      attempts,
    };
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopAll();
  }
}

function summarize(
  attempts: Attempt[],
  designList: Design[],
  limits: Array<{ memoryMb: number; share: number; limited: boolean }>,
) {
  const rows = [];
  for (const limit of limits) {
    for (const design of designList) {
      for (const kind of ['known', 'unknown'] as const) {
        const group = attempts.filter(
          (a) => a.share === limit.share && a.design === design.label && a.kind === kind,
        );
        const reports = group.flatMap((a) => (a.request.report ? [a.request.report] : []));
        const workers = group.flatMap((a) => a.workers.flatMap((w) => (w.report ? [w.report] : [])));
        const tally: Record<string, number> = {};
        for (const line of group.flatMap((a) => [...a.request.log, ...a.workers.flatMap((w) => w.log)]))
          tally[line] = (tally[line] ?? 0) + 1;
        rows.push({
          memoryMb: limit.memoryMb,
          share: limit.share,
          limited: limit.limited,
          design: design.label,
          kind,
          requests: group.length,
          answered200: group.filter((a) => a.status === 200).length,
          failed: group.filter((a) => !a.request.report).length,
          emailed: group.filter((a) => a.emails > 0).length,
          emails: group.reduce((sum, a) => sum + a.emails, 0),
          unfollowed: group.filter((a) => !a.followed).length,
          answerMs: stats(reports.map((r) => r.answerMs)),
          answerCpuMs: stats(reports.map((r) => r.answerCpuMs)),
          importMs: stats(reports.map((r) => r.importMs)),
          bootMs: stats(reports.map((r) => r.bootMs)),
          throttledMs: stats(
            group.flatMap((a) => (a.request.throttledMs === undefined ? [] : [a.request.throttledMs])),
          ),
          emailQueuedAfterMs: stats(
            group.flatMap((a) => (a.emailQueuedAfterMs === undefined ? [] : [a.emailQueuedAfterMs])),
          ),
          workerInvocations: group.reduce((sum, a) => sum + a.workers.length, 0),
          workerImportMs: stats(workers.map((r) => r.importMs)),
          workerAnswerMs: stats(workers.map((r) => r.answerMs)),
          outcomes: tally,
        });
      }
    }
  }
  return rows;
}

/** Known against unknown answer times, per share and design: can the first answer tell them apart? */
function gaps(summary: ReturnType<typeof summarize>, attempts: Attempt[]) {
  const answers = (share: number, design: string, kind: Kind) =>
    attempts.flatMap((a) =>
      a.share === share && a.design === design && a.kind === kind && a.request.report
        ? [a.request.report.answerMs]
        : [],
    );
  const keys = new Map(summary.map((row) => [`${row.share}|${row.design}`, row]));
  return [...keys.values()].map((row) => {
    const known = answers(row.share, row.design, 'known');
    const unknown = answers(row.share, row.design, 'unknown');
    return {
      memoryMb: row.memoryMb,
      design: row.design,
      medianGapMs: median(known) - median(unknown),
      mannWhitneyP: known.length && unknown.length ? mannWhitneyU(known, unknown).p : Number.NaN,
    };
  });
}

function render(result: Awaited<ReturnType<typeof runColdInvoke>>): string {
  const f = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(1));
  const spread = (s: { median: number; min: number; max: number } | undefined) =>
    s ? `${f(s.median)} (${f(s.min)}-${f(s.max)})` : '-';
  const shares = result.limits
    .map(
      (l) =>
        `${l.memoryMb} MB = ${l.memoryMb}/${FULL_VCPU_MB} = ${(l.share * 100).toFixed(1)}% of one vCPU: ${l.mechanism}${l.limited ? '' : ` [UNLIMITED: ${l.reason}]`}`,
    )
    .join('\n  ');
  const rows = result.summary.map((row) => [
    `${row.memoryMb} MB${row.limited ? '' : ' (unlimited!)'}`,
    row.design,
    row.kind,
    `${row.answered200}/${row.requests}`,
    row.kind === 'known' ? `${row.emailed}/${row.requests}` : String(row.emails),
    spread(row.answerMs),
    f(row.answerCpuMs?.median),
    f(row.importMs?.median),
    f(row.bootMs?.median),
    f(row.emailQueuedAfterMs?.median),
  ]);
  const outcomes = result.summary
    .filter((row) => Object.keys(row.outcomes).length > 0 || row.workerInvocations > 0 || row.failed > 0)
    .map((row) => {
      const tally = Object.entries(row.outcomes)
        .map(([line, count]) => `${line} x${count}`)
        .join(', ');
      const worker =
        row.workerInvocations > 0
          ? `; worker: ${row.workerInvocations} invocation(s), import ${f(row.workerImportMs?.median)} ms, answer ${f(row.workerAnswerMs?.median)} ms (medians)`
          : '';
      const trouble = [
        row.failed > 0 ? `${row.failed} request process(es) failed` : '',
        row.unfollowed > 0
          ? `${row.unfollowed} reset(s) still on the job queue after ${FOLLOW_MS / 1000} s`
          : '',
      ].filter(Boolean);
      return `  ${row.memoryMb} MB, ${row.design}, ${row.kind}: ${tally || 'no audit lines'}${worker}${trouble.length ? `; ${trouble.join(', ')}` : ''}`;
    });
  const la = (values: number[]) => values.map((v) => v.toFixed(2)).join(' ');
  return [
    `Cold invocations: ${result.command}`,
    `${result.machine.cpu} (${result.machine.cores} cores), Node ${result.machine.node}; load average ${la(result.loadAverage.start)} at the start, ${la(result.loadAverage.end)} at the end.`,
    `CPU share: Lambda allocates CPU in proportion to memory, one full vCPU at ${FULL_VCPU_MB} MB. Each invocation process joins a CFS quota before Node starts:`,
    `  ${shares}`,
    `Every request is a fresh process importing the deployed request bundle and serving one API Gateway v2 event (a fresh account or an unknown address, its own source IP); where the design has a worker, the job is worked by a fresh worker process at the same share. ${result.runsPerKind} per address kind, share and design; ${result.warmupPerKind} per kind and design first at full CPU as warm-up, not counted. Times in ms, median (min-max); "answer" is from invoking the handler to its result, inside the process; "answer CPU" the process's own CPU time meanwhile; "emailed" counts known-address requests whose email reached the email queue, and for unknown addresses the emails sent to them (none is due); "email after" is from starting the request's process to its email on the queue.`,
    '',
    table(
      [
        'share',
        'design',
        'address',
        '200s',
        'emailed',
        'answer',
        'answer CPU',
        'import',
        'node start',
        'email after',
      ],
      rows,
    ),
    '',
    'Known against unknown answers (a cold first request must not tell them apart):',
    ...result.knownVsUnknown.map(
      (row) =>
        `  ${row.memoryMb} MB, ${row.design}: median gap ${row.medianGapMs >= 0 ? '+' : ''}${f(row.medianGapMs)} ms, Mann-Whitney p ${row.mannWhitneyP.toFixed(3)}`,
    ),
    '',
    'What the functions logged (audit outcomes, warnings):',
    ...outcomes,
  ].join('\n');
}

const result = await runColdInvoke();
const saved = writeResult('cold-invoke', result);
if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else process.stdout.write(`${render(result)}\n\n(full results: ${saved})\n`);
