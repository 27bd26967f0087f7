import * as z from 'zod/mini';
import '../zod-messages';
import { FLOW_ID_LENGTH } from '../codes/code';
import { RESET_METHOD_NAMES } from '../config';
import { TOKEN_MAX_LENGTH } from '../tokens/token';

/**
 * Request bodies. strictObject rejects unknown keys, which also covers `__proto__`
 * and `constructor`. Lengths here only bound the work; the password policy speaks later.
 */
export const requestResetBody = z.strictObject({
  email: z.pipe(z.string().check(z.trim(), z.minLength(3), z.maxLength(254)), z.email()),
  // Absent: the first of RESET_METHODS. One that is not enabled is a 400 for every address.
  method: z.optional(z.enum(RESET_METHOD_NAMES)),
});

const newPassword = z.string().check(z.minLength(1), z.maxLength(256));

export const confirmLinkBody = z.strictObject({
  // Any string up to the issued length reaches the use case, which answers
  // invalid_or_expired_token for everything it could not have issued.
  token: z.string().check(z.minLength(1), z.maxLength(TOKEN_MAX_LENGTH * 2)),
  newPassword,
});

export const confirmCodeBody = z.strictObject({
  // As with tokens: anything up to twice the issued length reaches the use case, which answers
  // invalid_or_expired_code for a flowId it could not have issued.
  flowId: z.string().check(z.minLength(1), z.maxLength(FLOW_ID_LENGTH * 2)),
  // RESET_CODE_LENGTH ASCII digits; the schema takes any length the setting allows (6 to 10).
  code: z.string().check(z.regex(/^[0-9]{6,10}$/, 'must be 6 to 10 digits')),
  newPassword,
});

/** Either a link's token or a code flow's flowId and code; anything else is a 400 invalid_request. */
export const confirmResetBody = z.union([confirmLinkBody, confirmCodeBody]);

export type RequestResetBody = z.infer<typeof requestResetBody>;
export type ConfirmResetBody = z.infer<typeof confirmResetBody>;

const REQUEST_ACCEPTED_MESSAGE =
  'If an account exists for that email address, a link to reset its password is on its way.';

/** Fixed success bodies: the request answer never varies with the account. */
export const REQUEST_ACCEPTED_BODY = JSON.stringify({ message: REQUEST_ACCEPTED_MESSAGE });
/**
 * A code request's answer: the same message (issue 13), plus the flowId every request gets, known
 * account or not. Its shape is documented in lib/http/responses.ts.
 */
export const codeRequestedBody = (flowId: string) =>
  JSON.stringify({ message: REQUEST_ACCEPTED_MESSAGE, flowId });
export const RESET_COMPLETED_BODY = JSON.stringify({
  message: 'Your password has been changed. Sign in with your new password.',
});
