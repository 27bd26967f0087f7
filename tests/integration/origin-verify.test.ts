import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, startTestServer } from '../support/http';

/** Edge protection through the real handlers: the origin secret and CloudFront's viewer address. */
const SECRET = 'origin-secret-for-tests-0123456789abcdef';
let server: LocalServer;

beforeAll(async () => {
  server = await startTestServer({ ORIGIN_VERIFY_SECRET: SECRET, RATE_LIMIT_REQUEST_IP: '2/15m' });
});
afterAll(async () => {
  await server?.stop();
});

// Through send(), so that every answer is also checked against the OpenAPI contract.
const requestReset = (headers: Record<string, string>) =>
  send(server.url, ROUTES.request, { email: 'edge.user@example.com' }, { headers });

describe('with edge protection on', () => {
  it('refuses a request that came around CloudFront with a 403 problem, before reading the body', async () => {
    const around = await requestReset({ 'cloudfront-viewer-address': '203.0.113.1:1000' });
    const wrongSecret = await requestReset({ 'x-origin-verify': 'guess' });

    for (const response of [around, wrongSecret]) {
      expect(response.status).toBe(403);
      expect(response.headers['content-type']).toBe('application/problem+json');
      expect(response.json()).toMatchObject({ code: 'forbidden', status: 403 });
    }
  });

  it("counts per-IP limits by CloudFront's viewer address, not by the edge's address", async () => {
    const viaEdge = (viewer: string) =>
      requestReset({ 'x-origin-verify': SECRET, 'cloudfront-viewer-address': `${viewer}:443` });

    const first = [
      await viaEdge('198.51.100.1'),
      await viaEdge('198.51.100.1'),
      await viaEdge('198.51.100.1'),
    ];
    const other = await viaEdge('198.51.100.2');

    expect(first.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(first[2]?.headers['retry-after']).toMatch(/^\d+$/);
    expect(other.status).toBe(200);
  });
});
