import * as z from 'zod/mini';
import '../zod-messages';
import { PROBLEM_CODES, type ProblemCode, problemResponse } from './problem';
import { REQUEST_ACCEPTED_BODY, RESET_COMPLETED_BODY, requestResetBody } from './schemas';

/**
 * Response bodies as zod schemas, for the OpenAPI document and the contract tests. Each is
 * derived from what the runtime sends (the fixed success bodies, problemResponse() itself),
 * so the document cannot describe a body the service does not build.
 */

function messageOf(body: string): string {
  const parsed: unknown = JSON.parse(body);
  const message = (parsed as { message?: unknown }).message;
  if (typeof message !== 'string') throw new Error(`fixed body without a message: ${body}`);
  return message;
}

/**
 * Code mode (issue 13) adds `method` to the request body, and its answers then carry a flowId:
 * base64url of 16 random bytes. Derived from the request schema, so a build without code mode
 * documents no flowId.
 */
const offersCodes = 'method' in requestResetBody._zod.def.shape;
const FLOW_ID = /^[A-Za-z0-9_-]{22}$/;

export const requestAcceptedResponse = z.strictObject({
  message: z.literal(messageOf(REQUEST_ACCEPTED_BODY)),
  ...(offersCodes ? { flowId: z.optional(z.string().check(z.regex(FLOW_ID))) } : {}),
});
export const resetCompletedResponse = z.strictObject({ message: z.literal(messageOf(RESET_COMPLETED_BODY)) });

/** One `errors` entry of invalid_request: which field failed and why (zod's message). */
export const validationIssue = z.strictObject({ path: z.string(), message: z.string() });

/** One `violations` entry of weak_password: the rule broken and a sentence to show the user. */
export const policyViolation = z.strictObject({ rule: z.string(), message: z.string() });

/**
 * Members some problems add to the RFC 9457 ones. `detail` is the local server's Host guard
 * only (a 400 invalid_request); the deployed service never sends it.
 */
const EXTENSIONS: Partial<Record<ProblemCode, z.core.$ZodLooseShape>> = {
  invalid_request: {
    errors: z.optional(z.array(validationIssue)),
    detail: z.optional(z.string()),
  },
  weak_password: { violations: z.array(policyViolation).check(z.minLength(1)) },
};

/** The problem+json body of one code: type, title, status and code are the mapper's own values. */
export function problemBodySchema(code: ProblemCode) {
  const response = problemResponse(code);
  const body = JSON.parse(response.body ?? '{}') as { type: string; title: string; status: number };
  return z.strictObject({
    type: z.literal(body.type),
    title: z.literal(body.title),
    status: z.literal(body.status),
    code: z.literal(code),
    ...EXTENSIONS[code],
  });
}

/** The catalog's codes grouped by HTTP status, in catalog order. */
export function problemCodesByStatus(): Map<number, ProblemCode[]> {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of PROBLEM_CODES) {
    const status = problemResponse(code).statusCode ?? 500;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return byStatus;
}
