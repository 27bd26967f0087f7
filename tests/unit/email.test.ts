import { describe, expect, it } from 'vitest';
import type { KillSwitchState } from '../../lib/email/kill-switch';
import { MockEmailProvider } from '../../lib/email/mock-provider';
import { createSendEmail } from '../../lib/email/send-email';
import { escapeHtml } from '../../lib/email/templates/escape';
import { renderPasswordChanged } from '../../lib/email/templates/password-changed';
import { renderPasswordReset } from '../../lib/email/templates/password-reset';

const resetData = {
  link: 'https://market.example.com/reset-password#token=abc.def',
  expiresAt: new Date('2026-01-01T12:15:00Z'),
  expiresInMinutes: 15,
};

function sender(state: KillSwitchState) {
  const outbox = new MockEmailProvider();
  const logs: Array<{ event: string; fields: Record<string, unknown> }> = [];
  const sendEmail = createSendEmail({
    killSwitch: { read: async () => state },
    provider: outbox,
    log: (event, fields) => logs.push({ event, fields }),
  });
  return { sendEmail, outbox, logs };
}

describe('email templates', () => {
  it('renders the reset link and expiry in text and HTML', () => {
    const email = renderPasswordReset(resetData);

    expect(email.text).toContain(resetData.link);
    expect(email.text).toContain('15 minutes');
    expect(email.text).toContain('2026-01-01 12:15 UTC');
    expect(email.html).toContain(`href="${resetData.link}"`);
  });

  it('escapes values placed in HTML', () => {
    const email = renderPasswordReset({
      ...resetData,
      link: 'https://x.example/"><script>alert(1)</script>',
    });

    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('&quot;&gt;&lt;script&gt;');
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });

  it('renders the password-changed notice with the time', () => {
    const email = renderPasswordChanged({ changedAt: new Date('2026-01-01T12:00:00Z') });

    expect(email.subject).toBe('Your password was changed');
    expect(email.text).toContain('2026-01-01 12:00 UTC');
    expect(email.html).toContain('2026-01-01 12:00 UTC');
  });
});

describe('sendEmail', () => {
  it('delivers through the provider when the switch allows it', async () => {
    const { sendEmail, outbox } = sender('deliver');

    const outcome = await sendEmail({ to: 'a@example.com', template: 'password_reset', data: resetData });

    expect(outcome).toEqual({ delivered: true });
    expect(outbox.outbox()).toHaveLength(1);
    expect(outbox.outbox()[0]).toMatchObject({
      to: 'a@example.com',
      template: 'password_reset',
      link: resetData.link,
    });
  });

  it.each([
    ['disabled', 'kill_switch'],
    ['unavailable', 'ssm_unavailable'],
  ] as const)('renders and delivers nothing when the switch is %s', async (state, reason) => {
    const { sendEmail, outbox, logs } = sender(state);

    const outcome = await sendEmail({ to: 'a@example.com', template: 'password_reset', data: resetData });

    expect(outcome).toEqual({ delivered: false, reason });
    expect(outbox.outbox()).toHaveLength(0);
    expect(logs).toHaveLength(0);
  });

  it('renders and logs a dry run with the secrets redacted, and delivers nothing', async () => {
    const { sendEmail, outbox, logs } = sender('dry_run');

    const outcome = await sendEmail({
      to: 'a@example.com',
      template: 'password_reset',
      data: resetData,
      secrets: ['abc.def', resetData.link],
    });

    expect(outcome).toEqual({ delivered: false, reason: 'dry_run' });
    expect(outbox.outbox()).toHaveLength(0);
    expect(logs).toHaveLength(1);
    const logged = JSON.stringify(logs);
    expect(logged).toContain('Reset your password');
    expect(logged).toContain('[REDACTED]');
    expect(logged).not.toContain('abc.def');
    expect(logged).not.toContain('a@example.com');
  });

  it('turns a provider failure into an outcome, not an exception', async () => {
    const sendEmail = createSendEmail({
      killSwitch: { read: async () => 'deliver' },
      provider: {
        deliver: async () => {
          throw new Error('smtp down');
        },
      },
      log: () => undefined,
    });

    await expect(
      sendEmail({ to: 'a@example.com', template: 'password_changed', data: { changedAt: new Date() } }),
    ).resolves.toEqual({
      delivered: false,
      reason: 'provider_error',
    });
  });

  it('keeps the mock outbox bounded', async () => {
    const outbox = new MockEmailProvider(3);

    for (let i = 0; i < 5; i++)
      await outbox.deliver({
        to: `${i}@x.example`,
        template: 'password_changed',
        subject: '',
        text: '',
        html: '',
      });

    expect(outbox.outbox().map((m) => m.to)).toEqual(['2@x.example', '3@x.example', '4@x.example']);
  });
});
