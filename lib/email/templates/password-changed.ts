import { html, type RenderedEmail } from './escape';

export interface PasswordChangedData {
  changedAt: Date;
}

export function renderPasswordChanged(data: PasswordChangedData): RenderedEmail {
  const when = data.changedAt.toISOString().replace('T', ' ').slice(0, 16);
  return {
    subject: 'Your password was changed',
    text: [
      `The password for your account was changed on ${when} UTC, using a password reset link.`,
      '',
      'If this was you, there is nothing to do. If it was not, reset your password again at once and contact support.',
    ].join('\n'),
    html: html`<!doctype html><html><body>
<p>The password for your account was changed on ${when} UTC, using a password reset link.</p>
<p>If this was you, there is nothing to do. If it was not, reset your password again at once and contact support.</p>
</body></html>`,
  };
}
