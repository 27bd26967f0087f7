import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DelaySettings } from '../../local/delay-proxy';
import { ROUTES } from '../../local/server';
import { freshNetwork, linkFor, postFrom } from '../support/loopback-clients';
import { report, STRESS } from '../support/sizes';
import { type SlowStore, startSlowStore, storedUser } from '../support/slow-store';

/**
 * An answer never contradicts the outcome, with DynamoDB slowed down behind a delaying proxy, on
 * the HTTP server at npm start's defaults (bcrypt 12, 10 s function budget, early 503 at 9 s).
 * Every 5xx must be a 503 with Retry-After, and a confirm answered 503 must not have changed the
 * password, then or later: the test waits until every delayed byte has reached DynamoDB and
 * reads the stored hash directly. A changed password must have been answered 200.
 */
vi.setConfig({ testTimeout: STRESS ? 900_000 : 240_000 });

let store: SlowStore;
beforeAll(async () => {
  store = await startSlowStore();
});
afterAll(() => store?.stop());

type Delays = Partial<Pick<DelaySettings, 'requestMs' | 'responseMs' | 'operations'>>;
const FAST: Delays = { requestMs: 0, responseMs: 0, operations: {} };

/**
 * The mix. Uniform latency (per direction; a round trip costs twice this) either leaves time for
 * the write or uses up the time before it, so the write is never started. Slowing only
 * TransactWriteItems makes every attempt of the write time out (the SDK waits 2 s): a request
 * that lands 2.5 s late has committed by the time the service looks, so the answer must be 200;
 * one that lands 7 s late has not, and must never commit after the 503.
 */
const CASES: Array<{ name: string; delays: Delays; stressOnly?: boolean }> = [
  { name: 'no delay', delays: {} },
  { name: '100 ms each way', delays: { requestMs: 100, responseMs: 100 }, stressOnly: true },
  { name: '400 ms each way', delays: { requestMs: 400, responseMs: 400 }, stressOnly: true },
  { name: '700 ms each way', delays: { requestMs: 700, responseMs: 700 } },
  { name: 'write lands 2.5 s late', delays: { operations: { TransactWriteItems: { requestMs: 2_500 } } } },
  {
    name: 'write answer 2.5 s late',
    delays: { operations: { TransactWriteItems: { responseMs: 2_500 } } },
    stressOnly: true,
  },
  { name: 'write lands 7 s late', delays: { operations: { TransactWriteItems: { requestMs: 7_000 } } } },
].filter((c) => STRESS || !c.stressOnly);

/** How long after an answer a byte the confirm sent may still reach DynamoDB, plus slack for a loaded machine. */
const lateBytesMs = (delays: Delays) =>
  Math.max(
    delays.requestMs ?? 0,
    ...Object.values(delays.operations ?? {}).map((operation) => operation.requestMs ?? 0),
  ) + 1_500;

describe('confirm with a slow store, at the default bcrypt cost', () => {
  it('never answers 5xx for a reset that happened, nor lets one happen after a 5xx', async () => {
    const { proxy, server } = store;
    expect(server.config.bcryptCost).toBe(12);
    const rounds = STRESS ? 3 : 1;
    const outcomes: Array<{ name: string; status: number; ms: number; writes: number }> = [];

    for (let round = 0; round < rounds; round++) {
      for (const { name, delays } of CASES) {
        proxy.set(FAST);
        const email = `slow-${randomUUID().slice(0, 8)}@example.com`;
        const created = await server.accounts.create(email, 'the starting passphrase of mine');
        if (!('userId' in created)) throw new Error('account exists');
        const token = await linkFor(server, email);
        const before = await storedUser(store, created.userId);
        const writesBefore = proxy.seen('TransactWriteItems');
        proxy.set({ ...FAST, ...delays });

        const answer = await postFrom(server.url, freshNetwork(), ROUTES.confirm, {
          token,
          newPassword: `a slow store passphrase ${randomUUID().slice(0, 8)}`,
        });
        const atAnswer = await storedUser(store, created.userId);
        // Every byte the confirm sent reaches DynamoDB, with the delays still on; then look again.
        await new Promise((resolve) => setTimeout(resolve, lateBytesMs(delays)));
        proxy.set(FAST);
        const later = await storedUser(store, created.userId);

        const writes = proxy.seen('TransactWriteItems') - writesBefore;
        const detail = `${name}: ${answer.status} ${answer.text} in ${Math.round(answer.ms)} ms, ${writes} write attempts`;
        expect([200, 503], detail).toContain(answer.status);
        if (answer.status === 503) {
          expect(answer.headers['retry-after'], detail).toMatch(/^\d+$/);
          expect(JSON.parse(answer.text).code, detail).toBe('service_unavailable');
          expect(atAnswer, `${detail}: changed before the 503`).toEqual(before);
          expect(later, `${detail}: changed after the 503`).toEqual(before);
        } else {
          expect(atAnswer.passwordHash, detail).not.toBe(before.passwordHash);
          expect(later.version, detail).toBe(before.version + 1);
        }
        outcomes.push({ name, status: answer.status, ms: Math.round(answer.ms), writes });
      }
    }

    // Both branches must have run, and a write must really have been cut off in flight: a mix
    // where only one outcome happens proves nothing.
    const named = (name: string) => outcomes.filter((o) => o.name === name);
    expect(named('no delay').every((o) => o.status === 200)).toBe(true);
    expect(named('write lands 7 s late').every((o) => o.status === 503 && o.writes > 0)).toBe(true);
    // A write that timed out and was found committed by the settling: the 200 branch of the
    // unknown outcome (sent about 1.5 s in, it lands long before the settling at 6.5 s).
    expect(outcomes.some((o) => o.status === 200 && o.writes > 1)).toBe(true);
    report('slow store, confirm at cost 12', {
      confirms: outcomes.length,
      ok: outcomes.filter((o) => o.status === 200).length,
      unavailable: outcomes.filter((o) => o.status === 503).length,
      cases: outcomes
        .map((o) => `${o.name.replaceAll(' ', '_')}=${o.status}/${o.ms}ms/${o.writes}w`)
        .join(','),
    });
  });
});
