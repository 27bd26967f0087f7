import { inject } from 'vitest';
import { type LocalServer, ROUTES, startLocalServer } from '../../local/server';
import { expectMatchesContract } from './contract';
import { testEnv } from './deps';

export { ROUTES };

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: () => Record<string, unknown>;
}

/** Sends a raw request: body may be a string, bytes or an object (sent as JSON). */
export async function send(
  baseUrl: string,
  path: string,
  body: unknown,
  options: {
    method?: string;
    contentType?: string | null;
    signal?: AbortSignal;
    headers?: Record<string, string>;
  } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
  if (contentType !== null) headers['content-type'] = contentType;
  const payload =
    body === undefined
      ? undefined
      : typeof body === 'string' || body instanceof Uint8Array
        ? body
        : JSON.stringify(body);
  const response = await fetch(`${baseUrl}${path}`, {
    method: options.method ?? 'POST',
    headers,
    body: payload,
    signal: options.signal ?? AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  const result: HttpResult = {
    status: response.status,
    headers: Object.fromEntries(response.headers.entries()),
    text,
    json: () => JSON.parse(text),
  };
  // Every answer of a documented operation must match docs/openapi.json: status, headers and body.
  expectMatchesContract(options.method ?? 'POST', new URL(path, baseUrl).pathname, result);
  return result;
}

/**
 * The local server on the shared DynamoDB Local, with fresh tables and a short response floor.
 * Its emailed links open its own reset page (startLocalServer's default), not the example domain.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: { dynamoEndpoint?: string } = {},
): Promise<LocalServer> {
  const { RESET_LINK_TEMPLATE: _exampleDomain, ...base } = testEnv({
    REQUEST_RESPONSE_FLOOR_MS: '20',
    KILL_SWITCH_CACHE_SECONDS: '1',
  });
  return startLocalServer({
    dynamoEndpoint: options.dynamoEndpoint ?? inject('dynamoEndpoint'),
    env: { ...base, ...env },
  });
}

/** Headers minus the ones that legitimately differ per response. */
export function stableHeaders(headers: Record<string, string>): Record<string, string> {
  const { date: _date, ...rest } = headers;
  return rest;
}

export function tokenFromLink(link: string | undefined): string {
  if (!link) throw new Error('no link');
  return decodeURIComponent(new URL(link).hash.replace('#token=', ''));
}
