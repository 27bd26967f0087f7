import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmReset } from '../../lib/confirm-reset';
import { DependencyUnavailableError } from '../../lib/errors';
import { createTestWorld, type TestWorld } from '../support/deps';

/** Tokens that die with the credentials, dry runs that change nothing, and writes never started late. */
let world: TestWorld;
beforeAll(async () => {
  world = await createTestWorld();
});
afterAll(() => world?.destroy());

const meta = { sourceIp: '198.51.100.20', requestId: 'creds' };
async function linkFor(email: string): Promise<string> {
  const result = await world.requestReset({ email, ...meta });
  expect(result).toEqual({ status: 'accepted', emailed: true });
  return world.lastToken();
}
const confirm = (token: string, extra: { deadline?: number } = {}) =>
  confirmReset({ token, newPassword: 'a sturdy new passphrase here', ...meta, ...extra }, world.confirmDeps);

describe('a link bound to the credentials it was sent for', () => {
  it('dies when the password is changed elsewhere after it was issued', async () => {
    const email = 'changes.password@example.com';
    await world.accounts.create(email, 'the original passphrase', 4);
    const token = await linkFor(email);

    await world.accounts.update({ email, newPassword: 'changed on the settings page' });

    expect(await confirm(token)).toEqual({ status: 'invalid_token' });
    expect(await world.accounts.login(email, 'changed on the settings page')).not.toBeNull();
  });

  it('dies when the email address is changed elsewhere after it was issued', async () => {
    const email = 'changes.address@example.com';
    await world.accounts.create(email, 'the original passphrase', 4);
    const token = await linkFor(email);

    await world.accounts.update({ email, newEmail: 'new.address@example.com' });

    expect(await confirm(token)).toEqual({ status: 'invalid_token' });
    expect(await world.accounts.login('new.address@example.com', 'the original passphrase')).not.toBeNull();
  });
});

describe('the kill-switch, read once', () => {
  it('in dry run writes no token, moves no pointer, and leaves a delivered link working', async () => {
    const email = 'dry.run@example.com';
    await world.accounts.create(email, 'the original passphrase', 4);
    const delivered = await linkFor(email);
    const tokenItems = async () =>
      (await world.scanAll())
        .map((item) => String(item.pk?.S ?? ''))
        .filter((pk) => /^(token|active)#/.test(pk))
        .sort();
    const before = await tokenItems();

    world.setKillSwitch('dry_run');
    const dry = await world.requestReset({ email, ...meta });
    world.setKillSwitch('deliver');

    expect(dry).toEqual({ status: 'accepted', emailed: false });
    const logged = world.emailLog.findLast((line) => line.event === 'email_dry_run');
    expect(String(logged?.fields.text)).toContain('[REDACTED]');
    // Only rate-limit counters may have changed: not one token# or active# item.
    expect(await tokenItems()).toEqual(before);
    expect((await confirm(delivered)).status).toBe('completed');
  });
});

describe('the deadline', () => {
  it('refuses to start the consuming write without time to finish it, and gives the token back', async () => {
    const email = 'late@example.com';
    await world.accounts.create(email, 'the original passphrase', 4);
    const token = await linkFor(email);

    await expect(confirm(token, { deadline: Date.now() + 1_000 })).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );

    // Nothing committed: the old password still works, and the retry after the 503 succeeds.
    expect(await world.accounts.login(email, 'the original passphrase')).not.toBeNull();
    expect((await confirm(token)).status).toBe('completed');
  });
});
