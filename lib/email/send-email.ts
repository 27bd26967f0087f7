import type { KillSwitch, KillSwitchState } from './kill-switch';
import type { RenderedEmail } from './templates/escape';
import { type PasswordChangedData, renderPasswordChanged } from './templates/password-changed';
import { type PasswordResetData, renderPasswordReset } from './templates/password-reset';
import { type PasswordResetCodeData, renderPasswordResetCode } from './templates/password-reset-code';

const TEMPLATES = {
  password_reset: renderPasswordReset,
  password_reset_code: renderPasswordResetCode,
  password_changed: renderPasswordChanged,
} satisfies Record<string, (data: never) => RenderedEmail>;

export type TemplateName = keyof typeof TEMPLATES;
interface TemplateData {
  password_reset: PasswordResetData;
  password_reset_code: PasswordResetCodeData;
  password_changed: PasswordChangedData;
}

export interface OutgoingEmail extends RenderedEmail {
  to: string;
  template: TemplateName;
  /** The reset link, kept apart so the local outbox can show it. */
  link?: string;
  /** Epoch ms after which the message is worthless (its link has expired); it is then dropped, not sent. */
  expiresAt?: number;
}

/**
 * Where rendered mail goes. In the functions this is the queue hand-off to the sender
 * (lib/email/email-queue.ts); the sender holds the real provider (mock, SES or SMTP).
 */
export interface EmailProvider {
  /** `signal` aborts a hand-off that would overrun the caller's deadline. */
  deliver(message: OutgoingEmail, options?: { signal?: AbortSignal }): Promise<void>;
}

export type EmailOutcome =
  | { delivered: true }
  | { delivered: false; reason: 'kill_switch' | 'dry_run' | 'ssm_unavailable' | 'provider_error' };

export interface EmailDeps {
  killSwitch: KillSwitch;
  provider: EmailProvider;
  /** Structured log sink for dry runs and provider failures. Never receives a secret. */
  log: (event: string, fields: Record<string, unknown>) => void;
}

export type SendEmail = <T extends TemplateName>(request: {
  to: string;
  template: T;
  data: TemplateData[T];
  /** Values to blank out wherever the email is logged (the link, the token). */
  secrets?: readonly string[];
  /** The kill-switch as the caller already read it for this request; read here when absent. */
  switchState?: KillSwitchState;
  /** Aborts the hand-off at the caller's deadline; the outcome is then provider_error. */
  signal?: AbortSignal;
}) => Promise<EmailOutcome>;

const SUPPRESSED: Record<Exclude<KillSwitchState, 'deliver' | 'dry_run'>, EmailOutcome> = {
  disabled: { delivered: false, reason: 'kill_switch' },
  unavailable: { delivered: false, reason: 'ssm_unavailable' },
};

/**
 * The one way to send mail. The kill-switch is checked here, inside the only path to the
 * provider, so no caller can bypass it. A provider failure is an outcome, not an exception:
 * mail is best-effort and never undoes or reveals anything.
 */
export function createSendEmail(deps: EmailDeps): SendEmail {
  return async ({ to, template, data, secrets = [], switchState, signal }) => {
    const state = switchState ?? (await deps.killSwitch.read());
    if (state === 'disabled' || state === 'unavailable') return SUPPRESSED[state];

    const render = TEMPLATES[template] as (data: TemplateData[typeof template]) => RenderedEmail;
    const rendered = render(data);
    if (state === 'dry_run') {
      deps.log('email_dry_run', {
        template,
        subject: rendered.subject,
        text: redact(rendered.text, secrets),
        html: redact(rendered.html, secrets),
      });
      return { delivered: false, reason: 'dry_run' };
    }
    const link = 'link' in data && typeof data.link === 'string' ? data.link : undefined;
    const expiresAt =
      'expiresAt' in data && data.expiresAt instanceof Date ? data.expiresAt.getTime() : undefined;
    try {
      await deps.provider.deliver(
        {
          to,
          template,
          ...rendered,
          ...(link ? { link } : {}),
          ...(expiresAt ? { expiresAt } : {}),
        },
        signal ? { signal } : undefined,
      );
      return { delivered: true };
    } catch (error) {
      deps.log('email_provider_error', { template, error: error instanceof Error ? error.name : 'unknown' });
      return { delivered: false, reason: 'provider_error' };
    }
  };
}

function redact(text: string, secrets: readonly string[]): string {
  return secrets.reduce((out, secret) => (secret ? out.split(secret).join('[REDACTED]') : out), text);
}
