import { html, type RenderedEmail } from './escape';

export interface PasswordResetData {
  link: string;
  expiresAt: Date;
  expiresInMinutes: number;
}

export function renderPasswordReset(data: PasswordResetData): RenderedEmail {
  const expiry = data.expiresAt.toISOString().replace('T', ' ').slice(0, 16);
  return {
    subject: 'Reset your password',
    text: [
      'Someone asked to reset the password for your account.',
      '',
      `To choose a new password, open this link within ${data.expiresInMinutes} minutes (until ${expiry} UTC):`,
      data.link,
      '',
      'The link works once. If you did not ask for this, ignore this email: your password stays as it is.',
    ].join('\n'),
    html: html`<!doctype html><html><body>
<p>Someone asked to reset the password for your account.</p>
<p>To choose a new password, open this link within ${data.expiresInMinutes} minutes (until ${expiry} UTC):</p>
<p><a href="${data.link}">Reset your password</a></p>
<p>The link works once. If you did not ask for this, ignore this email: your password stays as it is.</p>
</body></html>`,
  };
}
