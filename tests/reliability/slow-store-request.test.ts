import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DelaySettings } from '../../local/delay-proxy';
import { ROUTES } from '../../local/server';
import { type Answer, freshNetwork, postFrom } from '../support/loopback-clients';
import { report, STRESS } from '../support/sizes';
import { type SlowStore, startSlowStore } from '../support/slow-store';

/**
 * The request path with DynamoDB slowed or paused, on the HTTP server at npm start's defaults.
 * The answer's path is the per-IP limit and the job hand-off, the same for every address, so
 * known and unknown accounts answer alike; the account's work runs in the worker, which a slow or
 * paused store only delays: every accepted known-account request is mailed, exactly once.
 */
vi.setConfig({ testTimeout: STRESS ? 600_000 : 120_000 });

let store: SlowStore;
beforeAll(async () => {
  store = await startSlowStore();
});
afterAll(() => store?.stop());

const PER_GROUP = STRESS ? 60 : 10;
type Delays = Partial<Pick<DelaySettings, 'requestMs' | 'responseMs' | 'operations'>>;

const sorted = (answers: Answer[]) => answers.map((a) => a.ms).sort((a, b) => a - b);
const percentile = (values: number[], p: number) =>
  values[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] as number;
const median = (values: number[]) => percentile(values, 50);

/**
 * How far apart known and unknown answers may be: the answer's path makes the same calls for
 * both, so any gap is the machine's noise; 25 ms at the median and 50 ms at the 75th percentile
 * covers a shared machine's jitter, while a lookup or a token write on the known path (a held
 * 400 ms write, or two more round trips of 50 ms) would exceed it every time. The statistical
 * comparison over hundreds of pairs is bench:timing's.
 */
function expectAlike(known: number[], unknown: number[], detail: string) {
  expect(Math.abs(median(known) - median(unknown)), detail).toBeLessThanOrEqual(25);
  expect(Math.abs(percentile(known, 75) - percentile(unknown, 75)), detail).toBeLessThanOrEqual(50);
}

/** PER_GROUP fresh known accounts and as many unknown ones, interleaved, each from its own network. */
async function run(delays: Delays) {
  const { proxy, server } = store;
  const known: string[] = [];
  for (let i = 0; i < PER_GROUP; i++) {
    const email = `known-${randomUUID().slice(0, 8)}@example.com`;
    // Seeded at a low cost only to save time: no request path runs bcrypt.
    await server.accounts.create(email, 'a seeded passphrase for this', 4);
    known.push(email);
  }
  proxy.set({ requestMs: 0, responseMs: 0, operations: {}, ...delays });
  const answers = { known: [] as Answer[], unknown: [] as Answer[] };
  try {
    // Each answer is timed alone: locally the worker shares the server's event loop, which a
    // deployed worker (its own function) never does, so its work is let finish in between.
    for (const email of known) {
      answers.known.push(await postFrom(server.url, freshNetwork(), ROUTES.request, { email }));
      await server.emailSettled();
      answers.unknown.push(
        await postFrom(server.url, freshNetwork(), ROUTES.request, {
          email: `nobody-${randomUUID().slice(0, 8)}@example.com`,
        }),
      );
      await server.emailSettled();
    }
  } finally {
    proxy.set({ requestMs: 0, responseMs: 0, operations: {} });
  }
  const mails = (email: string) => server.outbox.outbox().filter((m) => m.to === email).length;
  return { answers, mailsPerKnown: known.map(mails) };
}

describe('request with a slow store, at the defaults', () => {
  for (const [name, delays] of [
    ['the token write held 400 ms', { operations: { TransactWriteItems: { requestMs: 400 } } }],
    ['every call 25 ms late each way', { requestMs: 25, responseMs: 25 }],
  ] as const) {
    it(`answers known and unknown accounts alike, and mails every known one once, with ${name}`, async () => {
      const result = await run(delays);

      const all = [...result.answers.known, ...result.answers.unknown];
      expect(new Set(all.map((a) => `${a.status} ${a.text}`)).size).toBe(1);
      expect(all[0]?.status).toBe(200);
      expect(result.mailsPerKnown).toEqual(Array(PER_GROUP).fill(1));
      const known = sorted(result.answers.known);
      const unknown = sorted(result.answers.unknown);
      expectAlike(known, unknown, `known ${known.map(Math.round)}; unknown ${unknown.map(Math.round)}`);
      report(`slow store, request (${name})`, {
        perGroup: PER_GROUP,
        mailed: result.mailsPerKnown.filter((n) => n === 1).length,
        knownMedianMs: median(known).toFixed(1),
        unknownMedianMs: median(unknown).toFixed(1),
      });
    });
  }
});
