import { createServer } from 'node:http';
import { definedSettings } from '../lib/config';
import { startDynamoDbLocal } from '../local/dynamodb-local';
import { freePort } from '../local/free-port';
import { startLocalServer } from '../local/server';
import { startDynamoCounter } from './dynamo-counter';

/**
 * The service in its own process, for load clients that must not share its event loop.
 * Settings come from the environment. Prints one JSON line when ready, then serves a small
 * control API (stats, seeding) on a second port. SIGTERM stops everything, Java included.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const env = definedSettings(process.env);
const dynamo = await startDynamoDbLocal();
// LOCAL_STORE_DELAY_MS (bench:timing --store-delay-ms) puts the rig's delaying proxy in front of this.
const counter = process.env.BENCH_COUNT_CALLS ? await startDynamoCounter(dynamo.endpoint) : undefined;
const server = await startLocalServer({ port: 0, env, dynamoEndpoint: counter?.endpoint ?? dynamo.endpoint });

let floorExceeded = 0;
/** Reset jobs that sent nothing, by reason (unknown_account, throttled, ...). */
const suppressedBy: Record<string, number> = {};
let logBytes = 0;
const write = process.stdout.write.bind(process.stdout);
const writeErr = process.stderr.write.bind(process.stderr);
/**
 * Keeps the service's log lines (JSON on stdout, warnings and errors on stderr) off the bench
 * output, counting their bytes and the floor warnings. Locally, concurrent requests share one
 * Metrics instance (Lambda never does), so one invocation can publish another's metrics and the
 * second warns of an empty set: not a fault, and dropped too. Anything else still shows.
 */
const tap =
  (passThrough: (...args: unknown[]) => boolean) =>
  (chunk: unknown, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    if (text.startsWith('{') || text.startsWith('No application metrics')) {
      logBytes += Buffer.byteLength(text);
      if (text.includes('"response_floor_exceeded"')) floorExceeded++;
      const suppressed = /"event":"reset_email_suppressed","reason":"(\w+)"/.exec(text)?.[1];
      if (suppressed) suppressedBy[suppressed] = (suppressedBy[suppressed] ?? 0) + 1;
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }
    return passThrough(chunk, ...rest);
  };
process.stdout.write = tap(write as (...args: unknown[]) => boolean) as typeof process.stdout.write;
process.stderr.write = tap(writeErr as (...args: unknown[]) => boolean) as typeof process.stderr.write;

// The outbox is bounded; count every delivery so long runs can be checked exactly.
const delivered: Record<string, number> = {};
server.outbox.onDeliver((message) => {
  delivered[message.template] = (delivered[message.template] ?? 0) + 1;
});

const controlPort = await freePort();
const control = createServer(async (req, res) => {
  const reply = (value: unknown) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/stats') {
    // Mail is made asynchronously: count it once the queues have drained (unless a mapping is paused).
    if (url.searchParams.get('settle') !== '0') await server.emailSettled();
    return reply({
      dynamo: counter?.snapshot(),
      ssmGetCalls: server.ssm.getCalls,
      floorExceeded,
      suppressedBy,
      handled: {
        worker: { ...server.mappings.worker.handled },
        sender: { ...server.mappings.sender.handled },
      },
      jobDeadLetters: server.jobDeadLetters().length,
      logBytes,
      rssBytes: process.memoryUsage().rss,
      delivered,
    });
  }
  if (url.pathname === '/reset') {
    counter?.reset();
    floorExceeded = 0;
    for (const reason of Object.keys(suppressedBy)) delete suppressedBy[reason];
    logBytes = 0;
    for (const template of Object.keys(delivered)) delete delivered[template];
    return reply({ ok: true });
  }
  if (url.pathname === '/seed') {
    const count = Number(url.searchParams.get('count') ?? 0);
    const prefix = url.searchParams.get('prefix') ?? 'bench-user';
    const emails: string[] = [];
    for (let i = 0; i < count; i++) {
      const email = `${prefix}-${i}@example.com`;
      await server.accounts.create(email, 'a seeded bench passphrase', 4);
      emails.push(email);
    }
    return reply({ emails });
  }
  if (url.pathname === '/mappings') {
    // ?worker=pause&sender=resume: hold a function's queue, to count each function's calls apart.
    for (const name of ['worker', 'sender'] as const) {
      const action = url.searchParams.get(name);
      if (action === 'pause') server.mappings[name].pause();
      if (action === 'resume') server.mappings[name].resume();
    }
    return reply({ ok: true });
  }
  if (url.pathname === '/outbox') {
    await server.emailSettled();
    return reply(server.outbox.outbox().map((m) => ({ to: m.to, template: m.template, link: m.link })));
  }
  res.writeHead(404);
  res.end();
});
await new Promise<void>((resolve) => control.listen(controlPort, '127.0.0.1', resolve));

write(
  `${JSON.stringify({ ready: true, url: server.url, control: `http://127.0.0.1:${controlPort}`, pid: process.pid })}\n`,
);

const stop = async () => {
  control.close();
  await server.stop();
  await counter?.stop();
  await dynamo.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
