import httpSecurityHeaders from '@middy/http-security-headers';
import { type $ZodType, safeParse, toJSONSchema } from 'zod/v4/core';
import { DependencyUnavailableError, RateLimitedError } from '../errors';
import { MAX_BODY_BYTES, NO_STORE_HEADERS, SECURITY_HEADERS_OPTIONS } from './endpoint';
import { errorToProblem, PROBLEM_CODES, type ProblemCode } from './problem';
import {
  problemBodySchema,
  problemCodesByStatus,
  requestAcceptedResponse,
  resetCompletedResponse,
} from './responses';
import { ROUTES } from './routes';
import { confirmResetBody, requestResetBody } from './schemas';

/**
 * The OpenAPI 3.1 document of the two public endpoints, generated from the zod schemas the
 * handlers validate with, the problem catalog and the headers the middy stack sets.
 * `npm run openapi` writes it to docs/openapi.json; a test fails when that copy is stale.
 * Only the prose (summaries, descriptions, examples) is written here by hand.
 */

export const OPENAPI_PATH = 'docs/openapi.json';

type Json = Record<string, unknown>;
export type OpenApiDocument = Json & { paths: Record<string, Record<string, Json>> };

/** Answered by the local server only (API Gateway answers unknown routes and methods itself). */
const LOCAL_ONLY: ReadonlySet<ProblemCode> = new Set(['not_found', 'method_not_allowed']);

/**
 * Codes only confirm sends. A string set, so that codes still to come can be listed; codes
 * absent from the catalog are ignored.
 */
const CONFIRM_ONLY: ReadonlySet<string> = new Set([
  'invalid_or_expired_token',
  'invalid_or_expired_code',
  'weak_password',
]);

const STATUS_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is not valid for this endpoint; `code` says why.',
  403: 'Only with edge protection: the request did not come through CloudFront.',
  413: `The body is over ${MAX_BODY_BYTES} bytes; it was not read.`,
  415: 'The content type is not JSON.',
  422: 'The new password breaks the password policy; `violations` names each rule. The credential stays usable.',
  429: "The caller's IP is over a rate limit; `Retry-After` says when to try again.",
  500: 'A bug on our side. The body never carries a message or a stack.',
  503: 'A dependency is unavailable, or the answer would have come too late; `Retry-After` says when to retry.',
};

const HEADER_DESCRIPTIONS: Record<string, string> = {
  'Cache-Control': 'Reset answers are never cached by a browser, proxy or CDN.',
  Pragma: 'The same, for HTTP/1.0 caches.',
  'Content-Security-Policy': 'Deny-all: a JSON answer never renders as a document.',
  'Cross-Origin-Embedder-Policy': 'No cross-origin resources load in the answer.',
  'Cross-Origin-Opener-Policy': 'The answer shares no browsing context with other origins.',
  'Cross-Origin-Resource-Policy': 'Other origins cannot embed the answer.',
  'Origin-Agent-Cluster': 'Origin-keyed agent cluster.',
  'Referrer-Policy': 'No referrer leaves a page that calls the API.',
  'Strict-Transport-Security': 'HTTPS only, subdomains included.',
  'X-Content-Type-Options': 'No MIME sniffing.',
  'X-DNS-Prefetch-Control': 'No DNS prefetching.',
  'X-Download-Options': 'Old Internet Explorer: never open the answer in the site context.',
  'X-Frame-Options': 'Never framed.',
  'X-Permitted-Cross-Domain-Policies': 'No Flash or PDF cross-domain policy.',
};

/**
 * Member descriptions, applied wherever a schema has the member (in each branch of a union too).
 * Members a schema lacks are skipped, so code mode's members appear once its schemas have them.
 */
const PROPERTY_DESCRIPTIONS: Record<string, string> = {
  email: "The account's email address. Surrounding whitespace is ignored; case does not matter.",
  method:
    'How to deliver the reset: `link` or `code`. Defaults to the first method the deployment enables; ' +
    'a method it does not enable is a 400 `invalid_request`.',
  token: 'The token from the reset link (the part after `#token=`).',
  flowId: 'The flow id the request answered with, for a reset by code.',
  code: 'The numeric code from the reset email.',
  newPassword: 'The new password. The password policy decides (a 422 names each rule it breaks).',
  message: 'A fixed sentence to show the user.',
  type: 'A URI naming the problem type, one per code.',
  title: 'A short sentence for the user, fixed per code.',
  status: 'The HTTP status, repeated.',
  errors: 'Which members failed validation, and why.',
  violations: 'Each password rule the new password breaks, with a sentence to show the user.',
  detail: 'Local server only: why its Host guard refused the request.',
};

/** Examples per request body; only those the body's zod schema accepts make it into the document. */
const REQUEST_EXAMPLES: Record<string, Json> = {
  link: { email: 'user@example.com' },
  code: { email: 'user@example.com', method: 'code' },
};
const CONFIRM_EXAMPLES: Record<string, Json> = {
  link: {
    token: 'k3Jd9sQm1xZ0aB7cD4eF5g.h1J2k3L4m5N6o7P8q9R0s1T2u3V4w5X6y7Z8a9B0c1D',
    newPassword: 'three unrelated words',
  },
  code: { flowId: 'Qm9vZ2llV29vZ2llQm9vZ2', code: '40271836', newPassword: 'three unrelated words' },
};

export function buildOpenApiDocument(): OpenApiDocument {
  const schemas: Record<string, Json> = {
    RequestResetBody: describe(
      describeProperties(jsonSchema(requestResetBody, 'input')),
      'Asks for a reset of the account with this email.',
    ),
    ConfirmResetBody: describe(
      describeProperties(jsonSchema(confirmResetBody, 'input')),
      'Sets a new password with the credential a reset email carried.',
    ),
    RequestAccepted: describe(
      describeProperties(jsonSchema(requestAcceptedResponse, 'output')),
      'The one answer for every well-formed email, whether or not it has an account.',
    ),
    ResetCompleted: describe(
      describeProperties(jsonSchema(resetCompletedResponse, 'output')),
      'The password was changed. No session, cookie or token comes with it: the user signs in.',
    ),
  };
  for (const code of PROBLEM_CODES) {
    if (LOCAL_ONLY.has(code)) continue;
    schemas[problemSchemaName(code)] = describe(
      describeProperties(jsonSchema(problemBodySchema(code), 'output')),
      `RFC 9457 problem details with the stable code \`${code}\`.`,
    );
  }

  const headers: Record<string, Json> = {};
  for (const [name, value] of Object.entries(answerHeaders())) {
    headers[name] = {
      description: HEADER_DESCRIPTIONS[name] ?? 'Set on every answer by the security-headers middleware.',
      required: true,
      schema: { type: 'string', const: value },
    };
  }
  headers['Retry-After'] = {
    description: 'Seconds to wait before trying again.',
    required: true,
    schema: { type: 'integer', minimum: 1 },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Password reset service',
      version: '1.0.0',
      summary: 'Two endpoints: ask for a password reset, and confirm it with a new password.',
      description:
        'Every answer is JSON. Errors are RFC 9457 `application/problem+json` with a stable `code`. ' +
        `Bodies are at most ${MAX_BODY_BYTES} bytes of \`application/json\`, and unknown keys are refused.`,
      license: { name: 'UNLICENSED', identifier: 'UNLICENSED' },
    },
    servers: [
      {
        url: '/',
        description: 'The deployment that serves this document (API Gateway or its CloudFront edge)',
      },
    ],
    security: [],
    tags: [{ name: 'password-reset', description: 'The public password reset flow.' }],
    paths: {
      [ROUTES.request]: {
        post: operation({
          operationId: 'requestPasswordReset',
          summary: 'Ask for a password reset',
          description:
            'Answers the same 200, with the same headers and timing, for every well-formed email. ' +
            'A known account gets an email; an unknown one gets nothing.',
          bodySchema: 'RequestResetBody',
          examples: acceptedExamples(requestResetBody, REQUEST_EXAMPLES),
          success: {
            schema: 'RequestAccepted',
            description: 'Accepted; an email is on its way if the account exists.',
          },
          codes: PROBLEM_CODES.filter((code) => !LOCAL_ONLY.has(code) && !CONFIRM_ONLY.has(code)),
        }),
      },
      [ROUTES.confirm]: {
        post: operation({
          operationId: 'confirmPasswordReset',
          summary: 'Set a new password',
          description:
            'Consumes the credential and changes the password atomically. It never signs the user in.',
          bodySchema: 'ConfirmResetBody',
          examples: acceptedExamples(confirmResetBody, CONFIRM_EXAMPLES),
          success: { schema: 'ResetCompleted', description: 'The password was changed.' },
          codes: PROBLEM_CODES.filter((code) => !LOCAL_ONLY.has(code)),
        }),
      },
    },
    components: { schemas, headers },
  };
}

/** The problem schema's component name: `weak_password` -> `WeakPasswordProblem`. */
export function problemSchemaName(code: ProblemCode): string {
  const pascal = code.replace(/(^|_)([a-z])/g, (_match, _sep, letter: string) => letter.toUpperCase());
  return `${pascal}Problem`;
}

/** The headers every answer carries, from the same middleware and options the endpoint uses. */
function answerHeaders(): Record<string, string> {
  const request = { response: { statusCode: 200, headers: {} as Record<string, string> } };
  const middleware = httpSecurityHeaders(SECURITY_HEADERS_OPTIONS);
  (middleware.after as (request: unknown) => void)(request);
  return { ...NO_STORE_HEADERS, ...request.response.headers };
}

interface OperationSpec {
  operationId: string;
  summary: string;
  description: string;
  bodySchema: string;
  examples: Record<string, Json>;
  success: { schema: string; description: string };
  codes: ProblemCode[];
}

function operation(spec: OperationSpec): Json {
  const byStatus = problemCodesByStatus();
  const responses: Record<string, Json> = {
    200: {
      description: spec.success.description,
      headers: headerRefs([]),
      content: { 'application/json': { schema: ref(spec.success.schema) } },
    },
  };
  for (const [status, codes] of [...byStatus.entries()].sort(([a], [b]) => a - b)) {
    const sent = codes.filter((code) => spec.codes.includes(code));
    if (sent.length === 0) continue;
    const refs = sent.map((code) => ref(problemSchemaName(code)));
    const retry = retryAfterStatuses().has(status);
    responses[status] = {
      description: STATUS_DESCRIPTIONS[status] ?? `\`${sent.join('`, `')}\``,
      headers: headerRefs(retry ? ['Retry-After'] : []),
      content: { 'application/problem+json': { schema: refs.length === 1 ? refs[0] : { oneOf: refs } } },
    };
  }
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    description: spec.description,
    tags: ['password-reset'],
    requestBody: {
      required: true,
      content: { 'application/json': { schema: ref(spec.bodySchema), examples: spec.examples } },
    },
    responses,
  };
}

function headerRefs(extra: string[]): Record<string, Json> {
  const names = [...Object.keys(answerHeaders()), ...extra];
  return Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));
}

/** Statuses whose answers carry Retry-After, as the mapper builds them. */
function retryAfterStatuses(): Set<number> {
  const answers = [new RateLimitedError(1), new DependencyUnavailableError('probe')].map(errorToProblem);
  return new Set(answers.filter((a) => a.headers?.['Retry-After']).map((a) => a.statusCode ?? 500));
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** zod -> JSON Schema 2020-12 (OpenAPI 3.1's dialect); request bodies as accepted, answers as sent. */
function jsonSchema(schema: $ZodType, io: 'input' | 'output'): Json {
  const { $schema: _dialect, ...rest } = toJSONSchema(schema, { target: 'draft-2020-12', io }) as Json;
  return rest;
}

/** The named examples the body's zod schema accepts, so the document never shows a refused body. */
function acceptedExamples(schema: $ZodType, candidates: Record<string, Json>): Record<string, Json> {
  const accepted = Object.entries(candidates).filter(([, value]) => safeParse(schema, value).success);
  return Object.fromEntries(accepted.map(([name, value]) => [name, { summary: `By ${name}`, value }]));
}

/** Adds PROPERTY_DESCRIPTIONS to the members of an object schema and of each union branch. */
function describeProperties(schema: Json): Json {
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  for (const [name, property] of Object.entries(properties)) {
    const description = PROPERTY_DESCRIPTIONS[name];
    if (description && property.description === undefined) properties[name] = { description, ...property };
  }
  for (const branch of [...((schema.anyOf ?? []) as Json[]), ...((schema.oneOf ?? []) as Json[])]) {
    describeProperties(branch);
  }
  return schema;
}

function describe(schema: Json, description: string): Json {
  return { description, ...schema };
}

/** The checked-in form: two-space JSON and a final newline (Biome leaves this generated file alone). */
export function serializeOpenApi(document: OpenApiDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
