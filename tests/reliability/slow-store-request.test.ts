import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ROUTES } from '../../local/server';
import type { DelaySettings } from '../../local/delay-proxy';
import { captureOutput } from '../support/log-capture';
import { type Answer, freshNetwork, postFrom } from '../support/loopback-clients';
import { report, STRESS } from '../support/sizes';
import { type SlowStore, startSlowStore } from '../support/slow-store';

/**
 * The known-account work has a deadline below the floor, with DynamoDB slowed down behind a
 * delaying proxy, on the HTTP server at npm start's defaults (250 ms floor, default limits).
 * Past the deadline the outcome is store_error and the answer still leaves at the floor; unknown
 * accounts, which never do that work, answer as before.
 */
vi.setConfig({ testTimeout: STRESS ? 600_000 : 120_000 });

let store: SlowStore;
beforeAll(async () => {
  store = await startSlowStore();
});
afterAll(() => store?.stop());

const FLOOR_MS = 250;
/**
 * How late a known account's answer may be: the floor, plus whatever lateness the machine adds
 * to every answer (measured on the unknown accounts, interleaved in the same run: they do no
 * account work), plus 25 ms at the median and 50 ms at the 75th percentile. On a quiet machine
 * unknown answers take 251 to 256 ms, so the bound is about floor + 25 ms. It is relative
 * because this machine is shared (load averages of 5 to 18 on 2 cores were seen while this was
 * written) and a stall holds every answer, known or unknown, past any fixed bound. Without the
 * deadline, the held token write (400 ms) alone would put known answers 150 ms or more behind
 * the unknown ones, every time, so the test cannot pass unless the deadline cuts the work.
 */
function expectNoLaterThanUnknown(known: number[], unknown: number[], detail: string) {
  expect(median(known), detail).toBeLessThanOrEqual(Math.max(FLOOR_MS, median(unknown)) + 25);
  expect(percentile(known, 75), detail).toBeLessThanOrEqual(Math.max(FLOOR_MS, percentile(unknown, 75)) + 50);
}
const PER_GROUP = STRESS ? 60 : 10;

type Delays = Partial<Pick<DelaySettings, 'requestMs' | 'responseMs' | 'operations'>>;

/** Sends PER_GROUP requests for fresh known accounts and as many for unknown ones, interleaved. */
async function run(delays: Delays) {
  const { proxy, server } = store;
  const known: string[] = [];
  for (let i = 0; i < PER_GROUP; i++) {
    const email = `known-${randomUUID().slice(0, 8)}@example.com`;
    // Seeded at a low cost only to save time: the request path never runs bcrypt.
    await server.accounts.create(email, 'a seeded passphrase for this', 4);
    known.push(email);
  }
  proxy.set({ requestMs: 0, responseMs: 0, operations: {}, ...delays });
  const logs = captureOutput();
  const answers = { known: [] as Answer[], unknown: [] as Answer[] };
  try {
    for (const email of known) {
      answers.known.push(await postFrom(server.url, freshNetwork(), ROUTES.request, { email }));
      answers.unknown.push(
        await postFrom(server.url, freshNetwork(), ROUTES.request, {
          email: `nobody-${randomUUID().slice(0, 8)}@example.com`,
        }),
      );
    }
  } finally {
    logs.restore();
    proxy.set({ requestMs: 0, responseMs: 0, operations: {} });
  }
  const lines = logs.lines().filter((line) => line.startsWith('{"level"'));
  const suppressed = (reason: string) =>
    lines.filter((line) => line.includes('"reset_email_suppressed"') && line.includes(`"reason":"${reason}"`))
      .length;
  return {
    answers,
    storeErrors: suppressed('store_error'),
    unknownAccounts: suppressed('unknown_account'),
    emailsSent: lines.filter((line) => line.includes('"message":"reset_email_sent"')).length,
    floorExceeded: lines.filter((line) => line.includes('"response_floor_exceeded"')).length,
    storeErrorMetrics: logs
      .lines()
      .filter((line) => line.startsWith('{"_aws"') && line.includes('"reason":"store_error"')).length,
  };
}

const sorted = (answers: Answer[]) => answers.map((a) => a.ms).sort((a, b) => a - b);
const percentile = (sortedValues: number[], p: number) =>
  sortedValues[Math.min(sortedValues.length - 1, Math.floor((sortedValues.length * p) / 100))] as number;
const median = (sortedValues: number[]) => percentile(sortedValues, 50);

describe('request with a slow store, at the default floor', () => {
  it('answers a known account at the floor when its token write is slow, with store_error', async () => {
    expect(store.server.config.requestResponseFloorMs).toBe(FLOOR_MS);

    const result = await run({ operations: { TransactWriteItems: { requestMs: 400 } } });

    const known = sorted(result.answers.known);
    const unknown = sorted(result.answers.unknown);
    const detail = `known ${known.map(Math.round)}; unknown ${unknown.map(Math.round)}; server floor exceeded ${result.floorExceeded}, store errors ${result.storeErrors}`;
    expectNoLaterThanUnknown(known, unknown, detail);
    const all = [...result.answers.known, ...result.answers.unknown];
    expect(new Set(all.map((a) => `${a.status} ${a.text}`)).size).toBe(1);
    expect(all[0]?.status).toBe(200);
    expect(result.storeErrors).toBe(PER_GROUP);
    expect(result.storeErrorMetrics).toBe(PER_GROUP);
    expect(result.unknownAccounts).toBe(PER_GROUP);
    expect(result.emailsSent).toBe(0);
    report('slow store, request (token write held 400 ms)', {
      perGroup: PER_GROUP,
      storeErrors: result.storeErrors,
      knownMedianMs: median(known).toFixed(1),
      knownMaxMs: (known.at(-1) as number).toFixed(1),
      unknownMedianMs: median(unknown).toFixed(1),
      unknownMaxMs: (unknown.at(-1) as number).toFixed(1),
      floorExceeded: result.floorExceeded,
    });
  });

  it('keeps known and unknown answers alike at the floor when every call is slow', async () => {
    // 20 ms each way: the work every address does (per-IP, per-account and suppression checks,
    // about three round trips) stays under the floor; the known account's two more round trips
    // (binding read, token write) may or may not run into the deadline at floor - 30 ms,
    // depending on the machine. Either way its answer must look like an unknown account's.
    const result = await run({ requestMs: 20, responseMs: 20 });

    const all = [...result.answers.known, ...result.answers.unknown];
    expect(new Set(all.map((a) => `${a.status} ${a.text}`)).size).toBe(1);
    expect(result.unknownAccounts).toBe(PER_GROUP);
    expect(result.storeErrors + result.emailsSent).toBe(PER_GROUP);
    const known = sorted(result.answers.known);
    const unknown = sorted(result.answers.unknown);
    const detail = `known ${known.map(Math.round)}; unknown ${unknown.map(Math.round)}; server floor exceeded ${result.floorExceeded}, store errors ${result.storeErrors}`;
    expectNoLaterThanUnknown(known, unknown, detail);
    report('slow store, request (20 ms each way)', {
      perGroup: PER_GROUP,
      storeErrors: result.storeErrors,
      emailsSent: result.emailsSent,
      knownMedianMs: median(known).toFixed(1),
      knownMaxMs: (known.at(-1) as number).toFixed(1),
      unknownMedianMs: median(unknown).toFixed(1),
      unknownMaxMs: (unknown.at(-1) as number).toFixed(1),
      floorExceeded: result.floorExceeded,
    });
  });
});
