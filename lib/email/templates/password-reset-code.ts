import { html, type RenderedEmail } from './escape';

export interface PasswordResetCodeData {
  code: string;
  expiresAt: Date;
  expiresInMinutes: number;
}

/** The code is the whole secret of the email: never in the subject, which previews show. */
export function renderPasswordResetCode(data: PasswordResetCodeData): RenderedEmail {
  const expiry = data.expiresAt.toISOString().replace('T', ' ').slice(0, 16);
  return {
    subject: 'Your password reset code',
    text: [
      'Someone asked to reset the password for your account.',
      '',
      `Enter this code in the app within ${data.expiresInMinutes} minutes (until ${expiry} UTC):`,
      '',
      `Reset code: ${data.code}`,
      '',
      'The code works once, and only in the app that asked for it. Nobody from us will ever ask you for it.',
      'If you did not ask for this, ignore this email: your password stays as it is.',
    ].join('\n'),
    html: html`<!doctype html><html><body>
<p>Someone asked to reset the password for your account.</p>
<p>Enter this code in the app within ${data.expiresInMinutes} minutes (until ${expiry} UTC):</p>
<p style="font-size:24px;font-family:monospace;letter-spacing:4px"><strong>${data.code}</strong></p>
<p>The code works once, and only in the app that asked for it. Nobody from us will ever ask you for it.</p>
<p>If you did not ask for this, ignore this email: your password stays as it is.</p>
</body></html>`,
  };
}
