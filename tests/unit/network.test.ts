import { describe, expect, it } from 'vitest';
import { classifyDynamoError } from '../../lib/dynamo-errors';
import { DependencyUnavailableError } from '../../lib/errors';
import { ipKey, networkKey } from '../../lib/limits/network';
import { isJsonContentType, isLoopbackHost } from '../../local/host-guard';

describe('client network keys', () => {
  it('keys IPv4 per address for per-IP limits and per /24 for the account limit', () => {
    expect(ipKey('192.0.2.10')).toBe('192.0.2.10');
    expect(networkKey('192.0.2.10')).toBe('192.0.2.0/24');
    expect(networkKey('192.0.2.250')).toBe(networkKey('192.0.2.10'));
  });

  it('keys IPv6 by its /64 everywhere, however the address is written', () => {
    expect(ipKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:0db8:0001:0002:ffff:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(networkKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipKey('2001:db8:1:3::1')).not.toBe(ipKey('2001:db8:1:2::1'));
  });
});

describe('DynamoDB errors that mean "try again"', () => {
  const named = (name: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 400 }, ...extra });

  it.each([
    ['TransactionInProgressException', {}],
    ['TransactionConflictException', {}],
    [
      'TransactionCanceledException',
      { CancellationReasons: [{ Code: 'ThrottlingError' }, { Code: 'None' }] },
    ],
    ['TransactionCanceledException', { CancellationReasons: [{ Code: 'ProvisionedThroughputExceeded' }] }],
  ])('makes %s a 503, not a 500', (name, extra) => {
    expect(classifyDynamoError(named(name, extra))).toBeInstanceOf(DependencyUnavailableError);
  });

  it('keeps a cancellation for a bad request a bug (500)', () => {
    const error = named('TransactionCanceledException', {
      CancellationReasons: [{ Code: 'ValidationError' }],
    });
    expect(classifyDynamoError(error)).not.toBeInstanceOf(DependencyUnavailableError);
  });
});

describe('the local server guards', () => {
  it('answers only to loopback Host headers on its own port', () => {
    expect(isLoopbackHost('127.0.0.1:3000', 3000)).toBe(true);
    expect(isLoopbackHost('localhost:3000', 3000)).toBe(true);
    expect(isLoopbackHost('evil.example:3000', 3000)).toBe(false);
    expect(isLoopbackHost('127.0.0.1:3001', 3000)).toBe(false);
    expect(isLoopbackHost(undefined, 3000)).toBe(false);
  });

  it('takes only JSON on its /__local routes', () => {
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('application/json; charset=utf-8')).toBe(true);
    expect(isJsonContentType('text/plain')).toBe(false);
    expect(isJsonContentType(undefined)).toBe(false);
  });
});
