import { describe, expect, it, vi } from 'vitest';
import { createKillSwitch } from '../../lib/email/kill-switch';

function killSwitchWith(get: () => Promise<unknown>, now = () => 0) {
  const onUnavailable = vi.fn();
  const provider = { get: vi.fn(get) };
  const killSwitch = createKillSwitch({
    provider: provider as never,
    parameterName: '/p',
    cacheSeconds: 30,
    now,
    onUnavailable,
  });
  return { killSwitch, provider, onUnavailable };
}

describe('kill-switch', () => {
  it.each([
    ['{"enabled":true,"dryRun":false}', 'deliver'],
    ['{"enabled":true,"dryRun":true}', 'dry_run'],
    ['{"enabled":false,"dryRun":false}', 'disabled'],
    ['{"enabled":false,"dryRun":true}', 'disabled'],
  ])('reads %s as %s', async (raw, expected) => {
    const { killSwitch } = killSwitchWith(async () => raw);

    expect(await killSwitch.read()).toBe(expected);
  });

  it.each([
    ['not json'],
    ['{"enabled":"true","dryRun":false}'],
    ['{"enabled":true}'],
    ['{"enabled":true,"dryRun":false,"extra":1}'],
    ['null'],
  ])('fails closed on the malformed value %s and reports it', async (raw) => {
    const { killSwitch, onUnavailable } = killSwitchWith(async () => raw);

    expect(await killSwitch.read()).toBe('unavailable');
    expect(onUnavailable).toHaveBeenCalledOnce();
  });

  it('fails closed when SSM cannot be reached, and backs off instead of retrying every request', async () => {
    let now = 0;
    const { killSwitch, provider, onUnavailable } = killSwitchWith(
      async () => {
        throw new Error('connect ECONNREFUSED');
      },
      () => now,
    );

    expect(await killSwitch.read()).toBe('unavailable');
    expect(await killSwitch.read()).toBe('unavailable');
    expect(provider.get).toHaveBeenCalledTimes(1);
    now += 5_001;
    expect(await killSwitch.read()).toBe('unavailable');
    expect(provider.get).toHaveBeenCalledTimes(2);
    expect(onUnavailable).toHaveBeenCalledTimes(2);
  });

  it('asks the provider to cache for the configured time', async () => {
    const { killSwitch, provider } = killSwitchWith(async () => '{"enabled":true,"dryRun":false}');

    await killSwitch.read();

    expect(provider.get).toHaveBeenCalledWith('/p', { maxAge: 30 });
  });
});
