import { describe, expect, it } from 'vitest';
import { RequestError } from '../../lib/errors';
import { clientIp, viewerIp } from '../../lib/http/client-ip';

const SECRET = 'a-32-character-origin-secret-value!!';
const event = (headers: Record<string, string>, sourceIp = '130.176.0.9') => ({
  headers,
  requestContext: { http: { sourceIp } } as never,
});

describe('client IP and origin verification', () => {
  it('uses the API Gateway source IP and ignores client headers without edge protection', () => {
    const spoofed = event({
      'cloudfront-viewer-address': '203.0.113.9:1234',
      'x-forwarded-for': '203.0.113.9',
    });

    expect(clientIp(spoofed, undefined)).toBe('130.176.0.9');
  });

  it("takes CloudFront's viewer address when the origin secret matches", () => {
    const viaEdge = event({ 'x-origin-verify': SECRET, 'cloudfront-viewer-address': '198.51.100.7:46532' });

    expect(clientIp(viaEdge, SECRET)).toBe('198.51.100.7');
  });

  it('refuses a request without the secret, or with a wrong one, with a 403', () => {
    const around = event({ 'cloudfront-viewer-address': '198.51.100.7:46532' });
    const wrong = event({
      'x-origin-verify': `${SECRET}x`,
      'cloudfront-viewer-address': '198.51.100.7:46532',
    });

    for (const request of [around, wrong]) {
      expect(() => clientIp(request, SECRET)).toThrowError(RequestError);
      try {
        clientIp(request, SECRET);
      } catch (error) {
        expect(error).toMatchObject({ status: 403, code: 'forbidden' });
      }
    }
  });

  it('falls back to the source IP when the viewer address is missing or not an IP', () => {
    expect(clientIp(event({ 'x-origin-verify': SECRET }), SECRET)).toBe('130.176.0.9');
    expect(
      clientIp(event({ 'x-origin-verify': SECRET, 'cloudfront-viewer-address': 'evil:1' }), SECRET),
    ).toBe('130.176.0.9');
  });

  it('parses IPv4 and IPv6 viewer addresses with their port', () => {
    expect(viewerIp('198.51.100.7:443')).toBe('198.51.100.7');
    expect(viewerIp('2001:db8::7:443')).toBe('2001:db8::7');
    expect(viewerIp('[2001:db8::7]:443')).toBe('2001:db8::7');
    expect(viewerIp('198.51.100.7')).toBeUndefined();
    expect(viewerIp('')).toBeUndefined();
    expect(viewerIp(undefined)).toBeUndefined();
  });
});
