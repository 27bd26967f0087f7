import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

/**
 * Turns a Node HTTP request into the API Gateway HTTP API (payload 2.0) event the Lambda
 * handlers receive in AWS, and writes their result back. Like API Gateway, a body that is
 * not valid UTF-8 text arrives base64-encoded.
 */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** What the event is made of: a Node request, or the same fields from a benchmark that has none. */
export type RequestLike = Pick<IncomingMessage, 'url' | 'headers' | 'method' | 'httpVersion'> & {
  socket: { remoteAddress?: string | undefined };
};

export function toApiGatewayEvent(req: RequestLike, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const method = req.method ?? 'GET';
  let text: string | undefined;
  try {
    text = STRICT_UTF8.decode(body);
  } catch {
    text = undefined;
  }
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: `${method} ${url.pathname}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: `${method} ${url.pathname}`,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(body.length === 0
      ? {}
      : text === undefined
        ? { body: body.toString('base64'), isBase64Encoded: true }
        : { body: text, isBase64Encoded: false }),
  } as APIGatewayProxyEventV2;
}

/** A Lambda context with a 10 s budget, the stack's function timeout. */
export function lambdaContext(functionName: string, timeoutMs = 10_000): Context {
  const deadline = Date.now() + timeoutMs;
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export function writeResult(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const body = result.body ?? '';
  res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
  res.end(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}
