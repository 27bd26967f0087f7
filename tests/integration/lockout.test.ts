import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmReset } from '../../lib/confirm-reset';
import { createTestWorld, type TestWorld } from '../support/deps';

/**
 * No victim lock-out: the silent per-account limit is kept per account AND client network, so an
 * attacker asking for a victim's address uses up only their own network's budget.
 */
let world: TestWorld;
const VICTIM = 'victim@example.com';
beforeAll(async () => {
  world = await createTestWorld({
    // The shipped defaults for the account limits; per-IP limits stay lifted.
    RATE_LIMIT_REQUEST_ACCOUNT: '1/60s,3/1h',
    RATE_LIMIT_REQUEST_ACCOUNT_TOTAL: '10/1h',
  });
  await world.accounts.create(VICTIM, 'the victims own passphrase', 4);
});
afterAll(() => world?.destroy());

const ask = (sourceIp: string, email = VICTIM) =>
  world.requestReset({ email, sourceIp, requestId: `lockout-${sourceIp}` });

describe('the per-account limit', () => {
  it('gives the victim a working link at once after an attacker spent their own network budget', async () => {
    const attacker = await Promise.all([ask('203.0.113.5'), ask('203.0.113.5'), ask('203.0.113.77')]);
    const victim = await ask('198.51.100.7');

    expect(attacker.filter((result) => result.status === 'accepted' && result.emailed)).toHaveLength(1);
    expect(victim).toEqual({ status: 'accepted', emailed: true });
    const token = world.lastToken();
    const confirmed = await confirmReset(
      { token, newPassword: 'a brand new passphrase here', sourceIp: '198.51.100.7', requestId: 'v' },
      world.confirmDeps,
    );
    expect(confirmed.status).toBe('completed');
  });

  it('counts an IPv4 /24 as one network and an IPv6 /64 as one network', async () => {
    const email = 'neighbours@example.com';
    await world.accounts.create(email, 'the neighbours passphrase', 4);

    const v4 = [await ask('192.0.2.10', email), await ask('192.0.2.200', email)];
    const v6 = [await ask('2001:db8:1:2::1', email), await ask('2001:db8:1:2:ffff::9', email)];
    const otherV6 = await ask('2001:db8:1:3::1', email);

    expect(v4.map((r) => r.status === 'accepted' && r.emailed)).toEqual([true, false]);
    expect(v6.map((r) => r.status === 'accepted' && r.emailed)).toEqual([true, false]);
    expect(otherV6).toEqual({ status: 'accepted', emailed: true });
  });

  it('caps one account across every network, so a mailbox cannot be flooded', async () => {
    const email = 'flooded@example.com';
    await world.accounts.create(email, 'the flooded passphrase', 4);

    const results = [];
    for (let network = 1; network <= 12; network++) results.push(await ask(`10.${network}.0.1`, email));

    expect(results.filter((r) => r.status === 'accepted' && r.emailed)).toHaveLength(10);
    const throttled = world.audits.filter(
      (a) =>
        a.entry.event === 'reset_email_suppressed' && 'reason' in a.entry && a.entry.reason === 'throttled',
    );
    expect(throttled.length).toBeGreaterThanOrEqual(2);
  });
});

describe('the confirm per-IP limits', () => {
  let confirmWorld: TestWorld;
  beforeAll(async () => {
    confirmWorld = await createTestWorld({ RATE_LIMIT_CONFIRM_FAILURES_IP: '3/900s' });
  });
  afterAll(() => confirmWorld?.destroy());

  const guess = (sourceIp: string) =>
    confirmReset(
      {
        token: 'not-a-token',
        newPassword: 'a brand new passphrase here',
        sourceIp,
        requestId: `guess-${sourceIp}`,
      },
      confirmWorld.confirmDeps,
    );

  it('count an IPv6 /64 as one client, so rotating addresses in it buys no extra guesses', async () => {
    const sameNetwork = [];
    for (const address of [
      '2001:db8:9:9::1',
      '2001:db8:9:9::2',
      '2001:db8:9:9::3',
      '2001:db8:9:9:abcd:ef01:2345:6789',
    ])
      sameNetwork.push(await guess(address));
    const otherNetwork = await guess('2001:db8:9:a::1');

    expect(sameNetwork.map((result) => result.status)).toEqual([
      'invalid_token',
      'invalid_token',
      'invalid_token',
      'rate_limited',
    ]);
    expect(otherNetwork.status).toBe('invalid_token');
  });
});
