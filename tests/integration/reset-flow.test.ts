import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { confirmReset } from '../../lib/confirm-reset';
import { DependencyUnavailableError } from '../../lib/errors';
import { processResetJob } from '../../lib/process-reset-job';
import { requestReset } from '../../lib/request-reset';
import { createTestWorld, type TestWorld } from '../support/deps';

/** The core flow on real DynamoDB Local tables, with a manual clock. */
const OLD_PASSWORD = 'the original passphrase';
const NEW_PASSWORD = 'a brand new passphrase';
const meta = { sourceIp: '203.0.113.7', requestId: 'test-request' };

let world: TestWorld;
let userId: string;

beforeEach(async () => {
  world = await createTestWorld();
  const created = await world.accounts.create('Jane.Doe@Example.com', OLD_PASSWORD);
  if ('conflict' in created) throw new Error('seed failed');
  userId = created.userId;
});
afterAll(() => world?.destroy());

const request = (email = 'jane.doe@example.com') => world.requestReset({ email, ...meta });
const confirm = (token: string, newPassword = NEW_PASSWORD) =>
  confirmReset({ token, newPassword, ...meta }, world.confirmDeps);

describe('requesting a reset', () => {
  it('emails a single-use link to the address stored on the account', async () => {
    const result = await request('  JANE.doe@example.COM ');

    expect(result).toEqual({ status: 'accepted', emailed: true });
    const [message] = world.outbox.outbox();
    expect(message?.to).toBe('jane.doe@example.com');
    expect(message?.template).toBe('password_reset');
    expect(message?.link).toMatch(
      /^https:\/\/market\.example\.com\/reset-password#token=[\w-]{22}\.[\w-]{43}$/,
    );
  });

  it('answers an unknown address the same way and sends nothing', async () => {
    const result = await request('nobody@example.com');

    expect(result).toEqual({ status: 'accepted', emailed: false });
    expect(world.outbox.outbox()).toHaveLength(0);
    expect(world.audits.map((a) => a.entry)).toContainEqual({
      event: 'reset_email_suppressed',
      reason: 'unknown_account',
    });
  });

  it('waits out an optional response floor the same for known and unknown addresses', async () => {
    const floored = await createTestWorld({ REQUEST_RESPONSE_FLOOR_MS: '250' });
    await floored.accounts.create('jane.doe@example.com', OLD_PASSWORD);

    await floored.requestReset({ email: 'jane.doe@example.com', ...meta });
    await floored.requestReset({ email: 'nobody@example.com', ...meta });

    expect(floored.clock.slept).toEqual([250, 250]);
    expect(floored.floorExceeded).toEqual([]);
    floored.destroy();
  });

  it('hands known and unknown addresses the same job, and does none of the account work in the request', async () => {
    await requestReset({ email: 'jane.doe@example.com', ...meta }, world.requestDeps);
    await requestReset({ email: 'nobody@example.com', ...meta }, world.requestDeps);

    const [known, unknown] = world.jobs.queued;
    expect(Object.keys(known ?? {}).sort()).toEqual(Object.keys(unknown ?? {}).sort());
    expect(world.outbox.outbox()).toHaveLength(0);
    expect(world.clock.slept).toEqual([]);
    const items = (await world.scanAll()).map((item) => String(item.pk?.S ?? ''));
    // Only the per-IP counter: no lookup result, no account counter, no credential.
    expect(items.filter((pk) => pk !== '' && !pk.startsWith('rate#request-ip#'))).toEqual([]);
  });

  it('stores no plaintext token anywhere in DynamoDB', async () => {
    await request();
    const token = world.lastToken();
    const verifier = token.split('.')[1] as string;

    const items = JSON.stringify(await world.scanAll());

    expect(items).not.toContain(token);
    expect(items).not.toContain(verifier);
    expect(items).toContain('verifierHash');
  });
});

describe('confirming a reset', () => {
  it('changes the password: the old one stops working and the new one works', async () => {
    await request();

    const result = await confirm(world.lastToken());

    expect(result).toEqual({ status: 'completed' });
    expect(await world.accounts.login('jane.doe@example.com', OLD_PASSWORD)).toBeNull();
    expect(await world.accounts.login('jane.doe@example.com', NEW_PASSWORD)).toMatchObject({ userId });
  });

  it('records when the password changed and bumps the credential version', async () => {
    await request();

    await confirm(world.lastToken());

    const user = await world.accounts.get(userId);
    expect(user?.credentialVersion).toBe(1);
    expect(user?.passwordChangedAt).toBe(new Date(world.clock.now()).toISOString());
  });

  it('notifies the user that the password changed', async () => {
    await request();

    await confirm(world.lastToken());

    expect(world.outbox.outbox().map((m) => m.template)).toEqual(['password_reset', 'password_changed']);
    expect(world.outbox.outbox()[1]?.to).toBe('jane.doe@example.com');
  });

  it('rejects a token that was already used', async () => {
    await request();
    const token = world.lastToken();
    await confirm(token);

    const second = await confirm(token, 'yet another passphrase');

    expect(second).toEqual({ status: 'invalid_token' });
    expect(await world.accounts.login('jane.doe@example.com', NEW_PASSWORD)).not.toBeNull();
  });

  it('rejects a token once its lifetime has passed, and never extends it', async () => {
    const issuedAt = world.clock.now();
    await request();
    const token = world.lastToken();
    world.clock.advance(issuedAt + world.config.tokenTtlMinutes * 60_000 - world.clock.now());

    expect(await confirm(token)).toEqual({ status: 'invalid_token' });
    expect(await world.accounts.login('jane.doe@example.com', OLD_PASSWORD)).not.toBeNull();
  });

  it('accepts a token one millisecond before it expires', async () => {
    const issuedAt = world.clock.now();
    await request();
    world.clock.advance(issuedAt + world.config.tokenTtlMinutes * 60_000 - 1 - world.clock.now());

    expect(await confirm(world.lastToken())).toEqual({ status: 'completed' });
  });

  it('stops an older token from working after a newer request', async () => {
    await request();
    const older = world.lastToken();
    await request();
    const newer = world.lastToken();

    expect(await confirm(older)).toEqual({ status: 'invalid_token' });
    expect(await confirm(newer)).toEqual({ status: 'completed' });
  });

  it('rejects a token with a wrong verifier or an unknown selector', async () => {
    await request();
    const [selector, verifier] = world.lastToken().split('.') as [string, string];
    const flipped = verifier[0] === 'A' ? `B${verifier.slice(1)}` : `A${verifier.slice(1)}`;

    expect(await confirm(`${selector}.${flipped}`)).toEqual({ status: 'invalid_token' });
    expect(await confirm(`${'A'.repeat(22)}.${verifier}`)).toEqual({ status: 'invalid_token' });
    expect(await confirm('garbage')).toEqual({ status: 'invalid_token' });
    expect(await confirm(world.lastToken())).toEqual({ status: 'completed' });
  });

  it('names the broken rules of a weak password and keeps the token usable', async () => {
    await request();
    const token = world.lastToken();

    const weak = await confirm(token, 'jane.doe1');

    expect(weak.status).toBe('weak_password');
    expect(weak.status === 'weak_password' && weak.violations.map((v) => v.rule)).toEqual([
      'min_length',
      'not_email',
    ]);
    expect(await confirm(token)).toEqual({ status: 'completed' });
  });

  it('lets exactly one of 25 concurrent confirms with one token succeed', async () => {
    await request();
    const token = world.lastToken();

    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => confirm(token, `concurrent passphrase ${i}`)),
    );

    const winners = results.flatMap((r, i) => (r.status === 'completed' ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.status === 'invalid_token')).toHaveLength(24);
    expect(
      await world.accounts.login('jane.doe@example.com', `concurrent passphrase ${winners[0]}`),
    ).not.toBeNull();
    expect((await world.accounts.get(userId))?.credentialVersion).toBe(1);
  });
});

describe('the kill-switch', () => {
  it('delivers nothing and writes no token when email is disabled', async () => {
    world.setKillSwitch('disabled');

    const result = await request();

    expect(result).toEqual({ status: 'accepted', emailed: false });
    expect(world.outbox.outbox()).toHaveLength(0);
    expect((await world.scanAll()).some((item) => String(item.pk?.S).startsWith('token#'))).toBe(false);
  });

  it('renders but does not deliver in dry-run mode', async () => {
    world.setKillSwitch('dry_run');

    await request();

    expect(world.outbox.outbox()).toHaveLength(0);
    expect(world.emailLog).toHaveLength(1);
    expect(world.emailLog[0]?.event).toBe('email_dry_run');
    expect(String(world.emailLog[0]?.fields.text)).toContain('[REDACTED]');
    expect(String(world.emailLog[0]?.fields.text)).not.toMatch(/token=[\w-]{22}\./);
  });

  it('fails closed when the switch cannot be read, and keeps the job for a retry', async () => {
    world.setKillSwitch('unavailable');
    const answer = await requestReset({ email: 'jane.doe@example.com', ...meta }, world.requestDeps);
    if (answer.status !== 'accepted') throw new Error(answer.status);
    const job = world.jobs.take(answer.jobId);

    await expect(processResetJob(job, world.workerDeps)).rejects.toBeInstanceOf(DependencyUnavailableError);
    const sentWhileUnreadable = world.outbox.outbox().length;
    world.setKillSwitch('deliver');
    const retried = await processResetJob(job, world.workerDeps);

    expect(sentWhileUnreadable).toBe(0);
    expect(retried).toEqual({ status: 'emailed' });
    expect(world.outbox.outbox()).toHaveLength(1);
  });
});
