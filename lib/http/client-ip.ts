import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { RequestError } from '../errors';

/** The header CloudFront adds to every origin request when edge protection is on. */
export const ORIGIN_VERIFY_HEADER = 'x-origin-verify';
/** CloudFront's "ip:port" of the viewer; only trusted when the origin secret matched. */
export const VIEWER_ADDRESS_HEADER = 'cloudfront-viewer-address';

type Event = Pick<APIGatewayProxyEventV2, 'headers' | 'requestContext'>;

/**
 * With edge protection on (an origin secret is configured):
 * - a request without CloudFront's secret header came around the edge, and gets a 403;
 * - with it, the client IP is CloudFront's viewer address, since API Gateway only sees the edge.
 * Without a secret, the API Gateway source IP stands and no client-supplied header is read.
 */
export function clientIp(event: Event, originVerifySecret: string | undefined): string {
  const sourceIp = event.requestContext.http.sourceIp;
  if (!originVerifySecret) return sourceIp;
  if (!sameSecret(event.headers?.[ORIGIN_VERIFY_HEADER], originVerifySecret)) {
    throw new RequestError(403, 'forbidden', 'Origin verification failed');
  }
  return viewerIp(event.headers?.[VIEWER_ADDRESS_HEADER]) ?? sourceIp;
}

/** "198.51.100.7:443" or "2001:db8::7:443": the address without its port, if it is an IP. */
export function viewerIp(header: string | undefined): string | undefined {
  const cut = header?.lastIndexOf(':') ?? -1;
  if (!header || cut < 1) return undefined;
  const ip = header.slice(0, cut).replace(/^\[|\]$/g, '');
  return isIP(ip) ? ip : undefined;
}

/** Constant-time, also across lengths (both sides are hashed to the same size first). */
function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Runs the origin check before the body is read, and puts the trusted client IP in sourceIp. */
export function trustedClientIp(originVerifySecret: string | undefined): MiddlewareObj<Event> {
  return {
    before: ({ event }) => {
      event.requestContext.http.sourceIp = clientIp(event, originVerifySecret);
    },
  };
}
