import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  buildOpenApiDocument,
  OPENAPI_PATH,
  type OpenApiDocument,
  serializeOpenApi,
} from '../../lib/http/openapi';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, startTestServer, tokenFromLink } from '../support/http';

/**
 * Every status the OpenAPI document promises, provoked honestly over HTTP through the real
 * handlers on DynamoDB Local. send() checks each answer against docs/openapi.json; the last
 * test fails if a documented status was not reached here.
 */
const SECRET = 'origin-secret-for-contract-tests-0123456789';
const EMAIL = 'contract.user@example.com';
const PASSWORD = 'contract passphrase one';
let server: LocalServer;
let store: ClosableProxy;
const seen = new Set<string>();
let nextViewer = 1;

beforeAll(async () => {
  // DynamoDB Local behind a TCP proxy that the 503 test closes, as a store outage would.
  store = await closableProxy(inject('dynamoEndpoint'));
  server = await startTestServer(
    {
      ORIGIN_VERIFY_SECRET: SECRET,
      RATE_LIMIT_REQUEST_IP: '3/15m',
      RATE_LIMIT_CONFIRM_IP: '3/15m',
    },
    { dynamoEndpoint: store.endpoint },
  );
  await send(server.url, '/__local/users', { email: EMAIL, password: PASSWORD });
});
afterAll(async () => {
  await server?.stop();
  await store?.close();
});

/** A fresh viewer address per call, so that per-IP limits of one test never reach another. */
function viewer(): Record<string, string> {
  nextViewer += 1;
  return { 'x-origin-verify': SECRET, 'cloudfront-viewer-address': `198.51.100.${nextViewer}:443` };
}

/** POSTs to a public route through send() (which checks the answer against the contract), and notes the status. */
async function call(
  route: string,
  body: unknown,
  options: { contentType?: string | null; headers?: Record<string, string> } = {},
) {
  const response = await send(server.url, route, body, { ...options, headers: options.headers ?? viewer() });
  seen.add(`POST ${route} ${response.status}`);
  return response;
}

async function freshToken(): Promise<string> {
  await call(ROUTES.request, { email: EMAIL });
  await server.emailSettled();
  return tokenFromLink(server.outbox.outbox().at(-1)?.link);
}

describe('the success answers', () => {
  it('answers 200 to a request and to a confirm, as documented', async () => {
    const requested = await call(ROUTES.request, { email: EMAIL });
    await server.emailSettled();
    const token = tokenFromLink(server.outbox.outbox().at(-1)?.link);

    const confirmed = await call(ROUTES.confirm, { token, newPassword: 'contract passphrase two' });

    expect(requested.status).toBe(200);
    expect(confirmed.status).toBe(200);
  });
});

describe('the problem answers', () => {
  it('answers 400 invalid_request with the failing fields', async () => {
    const response = await call(ROUTES.request, { email: 'not an email', extra: 1 });

    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ code: 'invalid_request', errors: expect.any(Array) });
  });

  it('answers 400 malformed_json and invalid_or_expired_token', async () => {
    const malformed = await call(ROUTES.confirm, '{"token": ');
    const expired = await call(ROUTES.confirm, {
      token: `${'A'.repeat(22)}.${'B'.repeat(43)}`,
      newPassword: 'x',
    });

    expect(malformed.json()).toMatchObject({ status: 400, code: 'malformed_json' });
    expect(expired.json()).toMatchObject({ status: 400, code: 'invalid_or_expired_token' });
  });

  it('answers 403 forbidden to a request that bypassed the edge', async () => {
    for (const route of [ROUTES.request, ROUTES.confirm]) {
      const response = await call(route, { email: EMAIL }, { headers: {} });

      expect(response.json()).toMatchObject({ status: 403, code: 'forbidden' });
    }
  });

  it('answers 413 to a body over 4 KB and 415 to a body that is not JSON', async () => {
    for (const route of [ROUTES.request, ROUTES.confirm]) {
      const large = await call(route, { email: EMAIL, padding: 'x'.repeat(5_000) });
      const text = await call(route, 'email=a@example.com', { contentType: 'text/plain' });

      expect(large.json()).toMatchObject({ status: 413, code: 'payload_too_large' });
      expect(text.json()).toMatchObject({ status: 415, code: 'unsupported_media_type' });
    }
  });

  it('answers 422 weak_password with the rules broken', async () => {
    const response = await call(ROUTES.confirm, { token: await freshToken(), newPassword: 'password' });

    expect(response.json()).toMatchObject({ status: 422, code: 'weak_password' });
  });

  it('answers 429 with Retry-After once an IP is over its limit', async () => {
    for (const route of [ROUTES.request, ROUTES.confirm]) {
      const headers = viewer();
      const body = route === ROUTES.request ? { email: EMAIL } : { token: 'A.B', newPassword: 'x' };
      const answers = [];
      for (let i = 0; i < 4; i += 1) answers.push(await call(route, body, { headers }));

      expect(answers.at(-1)?.status).toBe(429);
      expect(Number(answers.at(-1)?.headers['retry-after'])).toBeGreaterThan(0);
    }
  });
});

describe('the failure answers', () => {
  it('answers 500 internal_error when the token table is missing (a broken deployment)', async () => {
    const admin = new DynamoDBClient({ endpoint: inject('dynamoEndpoint') });
    await admin.send(new DeleteTableCommand({ TableName: server.config.tokenTableName }));
    admin.destroy();

    const responses = [
      await call(ROUTES.request, { email: EMAIL }),
      await call(ROUTES.confirm, { token: `${'A'.repeat(22)}.${'B'.repeat(43)}`, newPassword: 'x' }),
    ];

    for (const response of responses)
      expect(response.json()).toMatchObject({ status: 500, code: 'internal_error' });
  });

  it('answers 503 service_unavailable with Retry-After when DynamoDB cannot be reached', async () => {
    await store.close();

    const responses = [
      await call(ROUTES.request, { email: EMAIL }),
      await call(ROUTES.confirm, { token: `${'A'.repeat(22)}.${'B'.repeat(43)}`, newPassword: 'x' }),
    ];

    for (const response of responses) {
      expect(response.json()).toMatchObject({ status: 503, code: 'service_unavailable' });
      expect(response.headers['retry-after']).toBe('5');
    }
  });
});

describe('the document over HTTP', () => {
  it('is served by the local server at GET /__local/openapi.json, equal to the checked-in copy', async () => {
    const response = await send(server.url, '/__local/openapi.json', undefined, { method: 'GET' });

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(serializeOpenApi(response.json() as OpenApiDocument)).toBe(readFileSync(OPENAPI_PATH, 'utf8'));
  });
});

describe('coverage of the document', () => {
  it('reached every documented status of both operations in this file', () => {
    const documented = Object.entries(buildOpenApiDocument().paths).flatMap(([path, operations]) =>
      Object.entries(operations).flatMap(([method, operation]) =>
        Object.keys(operation.responses as object).map(
          (status) => `${method.toUpperCase()} ${path} ${status}`,
        ),
      ),
    );

    expect([...seen].sort()).toEqual(documented.sort());
  });
});

interface ClosableProxy {
  endpoint: string;
  close(): Promise<void>;
}

/** A plain TCP relay; closing it refuses new connections and cuts the open ones. */
async function closableProxy(target: string): Promise<ClosableProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const proxy: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  const listening = typeof address === 'object' && address ? address.port : 0;
  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${listening}`,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        proxy.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}
