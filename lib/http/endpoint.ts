import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type * as z from 'zod/mini';
import { RequestError } from '../errors';
import { trustedClientIp } from './client-ip';
import { errorToProblem, isClientError, unavailableResponse } from './problem';

/** Bodies are tiny ({email} or {token, newPassword}); anything bigger is refused unread. */
export const MAX_BODY_BYTES = 4096;

export interface RequestMeta {
  sourceIp: string;
  requestId: string;
  /** Epoch ms at which the early-timeout 503 goes out: work that could commit must finish before. */
  deadline: number;
}

/** The security headers every answer carries; the OpenAPI document derives its header values from these. */
export const SECURITY_HEADERS_OPTIONS = {
  contentSecurityPolicy: { 'default-src': "'none'", 'frame-ancestors': "'none'", 'report-to': '' },
  reportTo: false,
  // A JSON API renders no document, so the long feature list would be noise.
  permissionsPolicy: false,
} as const;

/** Reset answers must never be cached by a browser, proxy or CDN. */
export const NO_STORE_HEADERS = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

/** The early-timeout answer fires this long before Lambda would kill the invocation. */
const EARLY_TIMEOUT_MS = 1_000;

type Event = Omit<APIGatewayProxyEventV2, 'body'> & { body?: unknown };
export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface EndpointOptions<S extends z.ZodMiniType> {
  schema: S;
  logger: Logger;
  metrics: Metrics;
  handle: (input: z.infer<S>, meta: RequestMeta) => Promise<APIGatewayProxyStructuredResultV2>;
  /** With edge protection: CloudFront's origin secret; requests without it get a 403. */
  originVerifySecret?: string | undefined;
}

/**
 * The one middy stack both endpoints share. In order: size and UTF-8 guard, JSON parsing,
 * zod validation, the use case; every failure goes through the problem+json mapper, and
 * every response (errors too) gets the no-store and security headers.
 */
export function createEndpoint<S extends z.ZodMiniType>(options: EndpointOptions<S>): HttpHandler {
  const { schema, logger, metrics, handle } = options;
  const handler = middy<Event, APIGatewayProxyStructuredResultV2>({
    // Answer a generic 503 a second before Lambda would kill the invocation: never a hang.
    timeoutEarlyInMillis: EARLY_TIMEOUT_MS,
    timeoutEarlyResponse: unavailableResponse,
  })
    // Last resort only: problemDetails() below answers first. logger: false because its
    // default logs the raw error, whose cause can hold the request body.
    .use(httpErrorHandler({ logger: false }))
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(httpSecurityHeaders(SECURITY_HEADERS_OPTIONS))
    .use(noStore())
    .use(problemDetails(logger, metrics))
    .use(trustedClientIp(options.originVerifySecret))
    .use(bodyGuard())
    .use(httpJsonBodyParser())
    .handler(async (event, context) => {
      const parsed = schema.safeParse(event.body);
      if (!parsed.success) {
        const details = fieldIssues(parsed.error.issues).map((issue) => ({
          path: issue.path.map(String).join('.'),
          message: issue.message,
        }));
        throw new RequestError(400, 'invalid_request', 'Request body failed validation', details);
      }
      return handle(parsed.data, {
        sourceIp: event.requestContext.http.sourceIp,
        requestId: event.requestContext.requestId,
        deadline: Date.now() + context.getRemainingTimeInMillis() - EARLY_TIMEOUT_MS,
      });
    });
  return handler as unknown as HttpHandler;
}

type Issue = { path: readonly PropertyKey[]; message: string; code?: string; errors?: Issue[][] };

/**
 * A union body (confirm: a token, or a flowId and code) fails as one `invalid_union` issue; the
 * client is better served by the fields of the shape it came closest to (the fewest issues).
 */
function fieldIssues(issues: readonly Issue[]): Issue[] {
  return issues.flatMap((issue) => {
    if (issue.code !== 'invalid_union' || !issue.errors?.length) return [issue];
    const closest = issue.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
    return fieldIssues(closest).map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }));
  });
}

/** Refuses oversized bodies and decodes base64 bodies strictly, so invalid UTF-8 is a 400. */
function bodyGuard(): MiddlewareObj<Event> {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  return {
    before: ({ event }) => {
      if (typeof event.body !== 'string') return;
      const bytes = event.isBase64Encoded
        ? Buffer.from(event.body, 'base64')
        : Buffer.from(event.body, 'utf8');
      if (bytes.length > MAX_BODY_BYTES) {
        throw new RequestError(413, 'payload_too_large', `Body exceeds ${MAX_BODY_BYTES} bytes`);
      }
      if (event.isBase64Encoded) {
        try {
          event.body = utf8.decode(bytes);
        } catch (cause) {
          throw new RequestError(400, 'malformed_json', 'Body is not valid UTF-8', undefined, { cause });
        }
        event.isBase64Encoded = false;
      }
    },
  };
}

/** Maps every error to problem+json and logs it without the request body. */
function problemDetails(
  logger: Logger,
  metrics: Metrics,
): MiddlewareObj<Event, APIGatewayProxyStructuredResultV2> {
  return {
    onError: (request) => {
      const error = request.error;
      if (isClientError(error)) {
        logger.info('request_rejected', {
          error: { name: error?.name, status: (error as { statusCode?: number }).statusCode },
        });
        metrics.addMetric('ClientError', MetricUnit.Count, 1);
      } else {
        logger.error('request_failed', { error: { name: error?.name, message: error?.message } });
        metrics.addMetric('ServerError', MetricUnit.Count, 1);
      }
      request.response = errorToProblem(error);
    },
  };
}

/** Reset answers must never be cached by a browser, proxy or CDN. */
function noStore(): MiddlewareObj<Event, APIGatewayProxyStructuredResultV2> {
  const apply = (request: { response?: APIGatewayProxyStructuredResultV2 | null }) => {
    if (!request.response) return;
    request.response.headers = { ...request.response.headers, ...NO_STORE_HEADERS };
  };
  return { after: apply, onError: apply };
}
