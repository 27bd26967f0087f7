import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { classifySesError } from '../../lib/email/providers/ses-provider';
import { classifySmtpError, createSmtpTransport } from '../../lib/email/providers/smtp-provider';
import { recordEmailEvent } from '../../lib/email/record-email-event';
import { ConfigError } from '../../lib/errors';
import { backoffSeconds } from '../../lib/jobs/queue-consumer';
import { createPseudonymizer } from '../../lib/pseudonym';
import { manualClock } from '../support/clock';

const minimal = {
  TOKEN_TABLE_NAME: 'tokens',
  USERS_TABLE_NAME: 'users',
  KILL_SWITCH_PARAMETER_NAME: '/reset/kill-switch',
  RESET_LINK_TEMPLATE: 'https://market.example.com/reset-password#token={token}',
};

const sdkError = (name: string, status?: number) =>
  Object.assign(new Error(name), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });

describe('email settings', () => {
  it('defaults to the mock provider with 8 attempts, 2 s backoff doubling to 60 s, and 30-day suppression', () => {
    const { email } = loadConfig(minimal);

    expect(email).toMatchObject({
      provider: 'mock',
      maxAttempts: 8,
      retryBaseSeconds: 2,
      retryMaxSeconds: 60,
      suppressionDays: 30,
    });
  });

  it.each([
    [{ EMAIL_PROVIDER: 'sendgrid' }, 'EMAIL_PROVIDER'],
    [{ EMAIL_PROVIDER: 'ses' }, 'EMAIL_FROM'],
    [{ EMAIL_PROVIDER: 'smtp', EMAIL_FROM: 'a@b.example' }, 'SMTP_URL or SMTP_SECRET_ARN'],
    [{ EMAIL_PROVIDER: 'ses', EMAIL_FROM: 'Market <not an address>' }, 'EMAIL_FROM'],
    [{ EMAIL_PROVIDER: 'smtp', EMAIL_FROM: 'a@b.example', SMTP_URL: 'http://relay.example' }, 'SMTP_URL'],
    [{ SES_CONFIGURATION_SET: 'has spaces' }, 'SES_CONFIGURATION_SET'],
    [{ EMAIL_MAX_ATTEMPTS: '0' }, 'EMAIL_MAX_ATTEMPTS'],
  ])('fails the cold start naming the bad email setting: %j', (settings, name) => {
    expect(() => loadConfig({ ...minimal, ...settings })).toThrow(ConfigError);
    expect(() => loadConfig({ ...minimal, ...settings })).toThrow(name);
  });

  it('accepts a from address with a display name, and SMTP from a URL or a secret ARN', () => {
    const ses = loadConfig({
      ...minimal,
      EMAIL_PROVIDER: 'ses',
      EMAIL_FROM: 'Market <no-reply@market.example.com>',
    });
    const smtp = loadConfig({
      ...minimal,
      EMAIL_PROVIDER: 'smtp',
      EMAIL_FROM: 'no-reply@market.example.com',
      SMTP_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:smtp-AbCdEf',
    });

    expect(ses.email.from).toBe('Market <no-reply@market.example.com>');
    expect(smtp.email.smtpSecretArn).toContain(':secret:smtp');
  });
});

describe('SMTP transport', () => {
  it('requires TLS to any host but localhost', () => {
    const remote = createSmtpTransport('smtp://user:pass@relay.example.com:587', 'SMTP_URL');
    const implicit = createSmtpTransport('smtps://relay.example.com', 'SMTP_URL');
    const local = createSmtpTransport('smtp://127.0.0.1:2525', 'SMTP_URL');

    expect(remote.options).toMatchObject({ requireTLS: true, secure: false, port: 587 });
    expect(implicit.options).toMatchObject({ secure: true, port: 465 });
    expect(local.options).toMatchObject({ requireTLS: false, ignoreTLS: true });
  });

  it('names the setting when the URL is not SMTP', () => {
    expect(() => createSmtpTransport('https://relay.example.com', 'SMTP_SECRET_ARN (secret value)')).toThrow(
      'SMTP_SECRET_ARN',
    );
  });
});

describe('failure classification', () => {
  it.each([
    ['TooManyRequestsException', 429, true],
    ['LimitExceededException', 400, true],
    ['InternalFailure', 500, true],
    ['ServiceUnavailable', 503, true],
    ['TimeoutError', undefined, true],
    ['MessageRejected', 400, false],
    ['BadRequestException', 400, false],
    ['MailFromDomainNotVerifiedException', 400, false],
    ['NotFoundException', 404, false],
  ])('SES %s (HTTP %s) is transient: %s', (name, status, transient) => {
    expect(classifySesError(sdkError(name, status)).transient).toBe(transient);
  });

  it.each([
    [{ responseCode: 421, code: 'EENVELOPE' }, true],
    [{ responseCode: 451, code: 'EMESSAGE' }, true],
    [{ responseCode: 550, code: 'EENVELOPE' }, false],
    [{ responseCode: 554, code: 'EMESSAGE' }, false],
    [{ responseCode: 535, code: 'EAUTH' }, false],
    [{ code: 'ECONNECTION' }, true],
    [{ code: 'ETIMEDOUT' }, true],
    [{ code: 'ESOCKET' }, true],
    [{ code: 'ETLS' }, false],
  ])('SMTP %j is transient: %s', (fields, transient) => {
    expect(classifySmtpError(Object.assign(new Error('smtp'), fields)).transient).toBe(transient);
  });
});

describe('retry backoff', () => {
  const config = { retryBaseSeconds: 2, retryMaxSeconds: 60 };

  it('doubles per attempt up to the cap, with jitter in the upper half', () => {
    const low = [1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffSeconds(attempt, config, () => 0));
    const high = [1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffSeconds(attempt, config, () => 0.999));

    expect(low).toEqual([1, 2, 4, 8, 16, 30, 30]);
    expect(high).toEqual([2, 4, 8, 16, 32, 60, 60]);
  });
});

describe('bounce and complaint events', () => {
  const setup = () => {
    const suppressed: Array<{ accountKey: string; reason: string; days: number }> = [];
    const pseudonymize = createPseudonymizer('test-salt-123');
    const deps = {
      suppressions: {
        suppress: async (accountKey: string, reason: 'bounce' | 'complaint', _now: number, days: number) => {
          suppressed.push({ accountKey, reason, days });
        },
      },
      pseudonymize,
      clock: manualClock(),
      suppressionDays: 30,
      report: () => undefined,
    };
    return { suppressed, deps, pseudonymize };
  };

  it('suppresses a permanently bounced address under its normalized HMAC key, never the address', async () => {
    const { suppressed, deps, pseudonymize } = setup();

    await recordEmailEvent(
      {
        eventType: 'Bounce',
        bounce: { bounceType: 'Permanent', bouncedRecipients: [{ emailAddress: ' Jane@Example.com' }] },
      },
      deps,
    );

    expect(suppressed).toEqual([
      { accountKey: pseudonymize('account', 'jane@example.com'), reason: 'bounce', days: 30 },
    ]);
  });

  it('suppresses complaints, and ignores transient bounces and other events', async () => {
    const { suppressed, deps } = setup();

    await recordEmailEvent(
      { eventType: 'Complaint', complaint: { complainedRecipients: [{ emailAddress: 'a@example.com' }] } },
      deps,
    );
    await recordEmailEvent(
      {
        eventType: 'Bounce',
        bounce: { bounceType: 'Transient', bouncedRecipients: [{ emailAddress: 'b@example.com' }] },
      },
      deps,
    );
    await recordEmailEvent({ eventType: 'Delivery' }, deps);
    await recordEmailEvent('not an event', deps);

    expect(suppressed.map((s) => s.reason)).toEqual(['complaint']);
  });
});
