import { compare } from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { confirmReset } from '../../lib/confirm-reset';
import { createTestWorld, type TestWorld } from '../support/deps';
import { report, SIZES } from '../support/sizes';

vi.setConfig({ testTimeout: SIZES.timeoutMs });

/** Races on real DynamoDB Local: single use holds under heavy concurrency, and newer always wins. */
let world: TestWorld;
beforeAll(async () => {
  world = await createTestWorld();
});
afterAll(() => world?.destroy());

const meta = (i: number) => ({ sourceIp: `198.51.100.${i % 250}`, requestId: `race-${i}` });

/**
 * Requests a reset and returns its token. Under stress a DynamoDB Local call can time out, and
 * the service then (correctly) sends nothing; like a user, ask again until a link arrives.
 */
async function issueFor(email: string): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = world.outbox.outbox().length;
    const result = await world.requestReset({ email, ...meta(attempt) });
    if (result.status === 'accepted' && result.emailed && world.outbox.outbox().length > before)
      return world.lastToken();
  }
  throw new Error(`no reset email for ${email} after 5 requests`);
}

describe('concurrent confirms', () => {
  it(`lets exactly one of ${SIZES.confirmsPerToken} concurrent confirms win, for each of ${SIZES.tokens} tokens`, async () => {
    const users = await Promise.all(
      Array.from({ length: SIZES.tokens }, async (_, i) => {
        const email = `racer-${i}@example.com`;
        const created = await world.accounts.create(email, 'the starting passphrase', 4);
        if ('conflict' in created) throw new Error('seed');
        return { email, userId: created.userId };
      }),
    );
    const tokens: string[] = [];
    for (const user of users) tokens.push(await issueFor(user.email));

    let confirms = 0;
    let tokensWithOneWinner = 0;
    const batch = 5;
    for (let start = 0; start < users.length; start += batch) {
      await Promise.all(
        users.slice(start, start + batch).map(async (user, offset) => {
          const token = tokens[start + offset] as string;
          const passwords = Array.from(
            { length: SIZES.confirmsPerToken },
            (_, k) => `winner candidate ${start + offset} ${k}`,
          );
          const results = await Promise.all(
            passwords.map((newPassword, k) =>
              confirmReset({ token, newPassword, ...meta(k) }, world.confirmDeps),
            ),
          );
          confirms += results.length;

          const winners = results.flatMap((result, k) => (result.status === 'completed' ? [k] : []));
          const statuses = JSON.stringify(results.map((r) => r.status));
          expect(winners, statuses).toHaveLength(1);
          tokensWithOneWinner++;
          expect(results.filter((r) => r.status === 'invalid_token')).toHaveLength(passwords.length - 1);
          const stored = await world.accounts.get(user.userId);
          expect(await compare(passwords[winners[0] as number] as string, String(stored?.passwordHash))).toBe(
            true,
          );
          expect(stored?.credentialVersion).toBe(1);
        }),
      );
    }

    expect(confirms).toBeGreaterThanOrEqual(SIZES.tokens * SIZES.confirmsPerToken);
    report('concurrent confirms', { tokens: SIZES.tokens, confirms, tokensWithOneWinner });
  });
});

describe('concurrent requests', () => {
  it(`leaves at most one usable token after ${SIZES.concurrentRequests} concurrent requests for one account`, async () => {
    const email = 'many-requests@example.com';
    await world.accounts.create(email, 'the starting passphrase', 4);
    world.outbox.clear();

    await Promise.all(
      Array.from({ length: SIZES.concurrentRequests }, (_, i) => world.requestReset({ email, ...meta(i) })),
    );
    const tokens = world.outbox
      .outbox()
      .map((m) => decodeURIComponent(new URL(m.link ?? '').hash.slice('#token='.length)));
    const results = [];
    for (const [i, token] of tokens.entries()) {
      results.push(
        await confirmReset(
          { token, newPassword: `sequential passphrase ${i}`, ...meta(i) },
          world.confirmDeps,
        ),
      );
    }

    expect(tokens.length).toBeGreaterThan(0);
    const usableTokens = results.filter((r) => r.status === 'completed').length;
    expect(usableTokens).toBe(1);
    report('concurrent requests', {
      requests: SIZES.concurrentRequests,
      tokensDelivered: tokens.length,
      usableTokens,
    });
  });

  it('never leaves an older token usable once a newer one was issued, with requests and confirms interleaved', async () => {
    const email = 'interleaved@example.com';
    await world.accounts.create(email, 'the starting passphrase', 4);
    let previous = await issueFor(email);
    let consumedBeforeSuperseded = 0;

    let roundsWithoutNewToken = 0;
    for (let round = 0; round < SIZES.interleavedRounds; round++) {
      const [requested, raced] = await Promise.all([
        world.requestReset({ email, ...meta(round) }),
        confirmReset(
          { token: previous, newPassword: `fresh passphrase ${round}`, ...meta(round) },
          world.confirmDeps,
        ),
      ]);
      if (raced.status === 'completed') consumedBeforeSuperseded++;
      if (requested.status !== 'accepted' || !requested.emailed) {
        // No newer token was issued (a store timeout under load): nothing to supersede this round.
        roundsWithoutNewToken++;
        if (raced.status === 'completed') previous = await issueFor(email);
        continue;
      }
      const newest = world.lastToken();

      const replay = await confirmReset(
        { token: previous, newPassword: `replayed passphrase ${round}`, ...meta(round) },
        world.confirmDeps,
      );
      const audit = JSON.stringify(world.audits.slice(-6).map((a) => a.entry));
      expect(replay, `round ${round}: ${JSON.stringify({ requested, raced })} ${audit}`).toEqual({
        status: 'invalid_token',
      });
      expect(newest).not.toBe(previous);
      previous = newest;
    }

    expect(roundsWithoutNewToken).toBeLessThan(SIZES.interleavedRounds / 2);
    report('interleaved requests and confirms', {
      rounds: SIZES.interleavedRounds,
      consumedBeforeSuperseded,
      roundsWithoutNewToken,
    });
  });
});
