import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { flowKey } from '../../lib/codes/code';
import { confirmReset } from '../../lib/confirm-reset';
import { DependencyUnavailableError } from '../../lib/errors';
import { processResetJob } from '../../lib/process-reset-job';
import { requestReset } from '../../lib/request-reset';
import { createTestWorld, type TestWorld } from '../support/deps';

/**
 * Code mode at the use-case level on real DynamoDB Local tables, with the manual clock: expiry,
 * the method switch, the kill-switch and dry run, and what is stored.
 */
const EMAIL = 'jane.doe@example.com';
const OLD_PASSWORD = 'the original passphrase';
const NEW_PASSWORD = 'a brand new passphrase';
const meta = { sourceIp: '203.0.113.7', requestId: 'test-request' };

let world: TestWorld;

beforeEach(async () => {
  world = await createTestWorld({ RESET_METHODS: 'code,link' });
  const created = await world.accounts.create(EMAIL, OLD_PASSWORD);
  if ('conflict' in created) throw new Error('seed failed');
});
afterAll(() => world?.destroy());

async function requestCode(email = EMAIL): Promise<string> {
  const result = await world.requestReset({ email, ...meta });
  if (result.status !== 'accepted' || !result.flowId) throw new Error(`no flow: ${result.status}`);
  return result.flowId;
}
const lastCode = () => {
  const code = world.outbox.outbox().findLast((m) => m.template === 'password_reset_code')?.text;
  return /^Reset code: ([0-9]+)$/m.exec(code ?? '')?.[1] ?? '';
};
const confirm = (flowId: string, code: string, newPassword = NEW_PASSWORD) =>
  confirmReset({ flowId, code, newPassword, ...meta }, world.confirmDeps);

describe('the method switch', () => {
  it('uses the first enabled method when the request names none', async () => {
    const result = await world.requestReset({ email: EMAIL, ...meta });

    expect(result).toEqual({ status: 'accepted', emailed: true, flowId: expect.any(String) });
    expect(world.outbox.outbox().map((m) => m.template)).toEqual(['password_reset_code']);
  });

  it('refuses a method that is not enabled, for every address alike and before any work', async () => {
    const linkOnly = await createTestWorld();

    const known = await linkOnly.requestReset({ email: EMAIL, method: 'code', ...meta });
    const unknown = await linkOnly.requestReset({ email: 'nobody@example.com', method: 'code', ...meta });

    expect(known).toEqual({ status: 'method_not_enabled' });
    expect(unknown).toEqual(known);
    expect(linkOnly.clock.slept).toEqual([]);
    expect(await linkOnly.scanAll()).toEqual([]);
    linkOnly.destroy();
  });
});

describe('codes', () => {
  it('stops working once their lifetime has passed, and one millisecond before is still fine', async () => {
    const issuedAt = world.clock.now();
    const expiring = await requestCode();
    const expiringCode = lastCode();
    world.clock.advance(issuedAt + world.config.codes.ttlMinutes * 60_000 - world.clock.now());

    expect(await confirm(expiring, expiringCode)).toEqual({ status: 'invalid_code' });
    expect(world.audits.map((a) => a.entry)).toContainEqual({ event: 'code_rejected', reason: 'expired' });

    const renewedAt = world.clock.now();
    const fresh = await requestCode();
    const freshCode = lastCode();
    world.clock.advance(renewedAt + world.config.codes.ttlMinutes * 60_000 - 1 - world.clock.now());
    expect(await confirm(fresh, freshCode)).toEqual({ status: 'completed' });
  });

  it('are stored only as an HMAC bound to the flow, under the hash of the flowId', async () => {
    const flowId = await requestCode();
    const code = lastCode();

    const items = JSON.stringify(await world.scanAll());

    expect(items).not.toContain(flowId);
    expect(items).not.toContain(code);
    expect(items).toContain(`flow#${flowKey(flowId)}`);
    expect(items).toContain(world.workerDeps.hashCode(flowId, code));
  });

  it('only work with the flowId they were sent for', async () => {
    await requestCode('nobody@example.com');
    const otherFlow = (await world.requestReset({ email: 'nobody@example.com', ...meta })) as {
      flowId: string;
    };
    await requestCode();
    const code = lastCode();

    expect(await confirm(otherFlow.flowId, code)).toEqual({ status: 'invalid_code' });
  });

  it('write a PasswordChanged outbox item with method code in the reset transaction', async () => {
    const withEvents = await createTestWorld({ RESET_METHODS: 'code', PASSWORD_CHANGED_EVENTS: 'true' });
    await withEvents.accounts.create(EMAIL, OLD_PASSWORD);
    const requested = await withEvents.requestReset({ email: EMAIL, ...meta });
    const text = withEvents.outbox.outbox().at(-1)?.text ?? '';
    const code = /^Reset code: ([0-9]+)$/m.exec(text)?.[1] ?? '';

    const result = await confirmReset(
      { flowId: (requested as { flowId: string }).flowId, code, newPassword: NEW_PASSWORD, ...meta },
      withEvents.confirmDeps,
    );

    expect(result).toEqual({ status: 'completed' });
    const items = JSON.stringify(await withEvents.scanAll());
    expect(items).toContain('"method":{"S":"code"}');
    expect(items).not.toContain('flow#');
    expect(await withEvents.accounts.login(EMAIL, NEW_PASSWORD)).toMatchObject({ credentialVersion: 1 });
    withEvents.destroy();
  });
});

describe('the per-IP failure budget', () => {
  it('counts failed codes as it counts failed tokens', async () => {
    const limited = await createTestWorld({ RESET_METHODS: 'code', RATE_LIMIT_CONFIRM_FAILURES_IP: '3/15m' });
    const phantom = await limited.requestReset({ email: 'nobody@example.com', ...meta });
    const flowId = (phantom as { flowId: string }).flowId;
    const guess = () =>
      confirmReset({ flowId, code: '12345678', newPassword: NEW_PASSWORD, ...meta }, limited.confirmDeps);

    const answers = [await guess(), await guess(), await guess(), await guess()];

    expect(answers.map((a) => a.status)).toEqual([
      'invalid_code',
      'invalid_code',
      'invalid_code',
      'rate_limited',
    ]);
    expect(await limited.flows.attempts(flowKey(flowId))).toBe(3);
    limited.destroy();
  });
});

describe('phantom flows', () => {
  it('are stored for an unknown address, so confirm has an item to charge', async () => {
    const flowId = await requestCode('nobody@example.com');

    const result = await confirm(flowId, '12345678');

    expect(result).toEqual({ status: 'invalid_code' });
    expect(await world.flows.attempts(flowKey(flowId))).toBe(1);
    expect(world.audits.map((a) => a.entry)).toContainEqual({ event: 'code_rejected', reason: 'wrong_code' });
  });

  it('are not what a failed store write leaves: the job is retried, its limits given back, and the code sent once', async () => {
    const strict = await createTestWorld({
      RESET_METHODS: 'code',
      RATE_LIMIT_REQUEST_ACCOUNT: '1/1h',
      RATE_LIMIT_REQUEST_ACCOUNT_TOTAL: '1/1h',
    });
    await strict.accounts.create(EMAIL, OLD_PASSWORD);
    const failingWrite = {
      tokens: { saveActive: () => Promise.reject(new DependencyUnavailableError('DynamoDB')) },
    };
    const answer = await requestReset({ email: EMAIL, ...meta }, strict.requestDeps);
    if (answer.status !== 'accepted' || !answer.flowId) throw new Error('no flow');
    const job = strict.jobs.take(answer.jobId);

    await expect(processResetJob(job, { ...strict.workerDeps, ...failingWrite })).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
    const afterFailure = {
      sent: strict.outbox.outbox().length,
      flow: await strict.flows.attempts(flowKey(answer.flowId)),
    };
    // The retry of the same job fits in limits of one per hour only if the failure gave its hit back.
    const retried = await processResetJob(job, strict.workerDeps);

    expect(afterFailure).toEqual({ sent: 0, flow: undefined });
    expect(retried).toEqual({ status: 'emailed' });
    expect(strict.outbox.outbox().map((m) => m.template)).toEqual(['password_reset_code']);
    strict.destroy();
  });

  it('are what the kill-switch leaves: no code, no credential moved', async () => {
    world.setKillSwitch('disabled');

    const flowId = await requestCode();

    expect(world.outbox.outbox()).toHaveLength(0);
    expect(await world.flows.attempts(flowKey(flowId))).toBe(0);
    const items = await world.scanAll();
    expect(items.some((item) => String(item.pk?.S ?? '').startsWith('active#'))).toBe(false);
  });

  it('are what a dry run leaves: a link delivered before keeps working', async () => {
    await world.requestReset({ email: EMAIL, method: 'link', ...meta });
    const link = world.outbox.outbox().at(-1)?.link ?? '';
    const token = decodeURIComponent(new URL(link).hash.replace('#token=', ''));
    world.setKillSwitch('dry_run');

    await requestCode();

    expect(world.emailLog.map((e) => e.event)).toContain('email_dry_run');
    const logged = JSON.stringify(world.emailLog.find((e) => e.event === 'email_dry_run'));
    expect(logged).toContain('Reset code: [REDACTED]');
    expect(logged).not.toMatch(/[0-9]{8}/);
    expect(await confirmReset({ token, newPassword: NEW_PASSWORD, ...meta }, world.confirmDeps)).toEqual({
      status: 'completed',
    });
  });
});
