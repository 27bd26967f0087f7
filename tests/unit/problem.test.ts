import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError, RateLimitedError, RequestError } from '../../lib/errors';
import { errorToProblem } from '../../lib/http/problem';

const body = (response: { body?: string }) => JSON.parse(response.body ?? '{}');

describe('problem+json mapper', () => {
  it('maps request errors to their stable code and status', () => {
    const response = errorToProblem(new RequestError(413, 'payload_too_large', 'too big'));

    expect(response.statusCode).toBe(413);
    expect(response.headers?.['Content-Type']).toBe('application/problem+json');
    expect(body(response)).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it('adds Retry-After to rate limits and outages', () => {
    expect(errorToProblem(new RateLimitedError(42)).headers?.['Retry-After']).toBe('42');
    expect(errorToProblem(new DependencyUnavailableError('DynamoDB')).statusCode).toBe(503);
  });

  it('never exposes the message or stack of an unknown error', () => {
    const response = errorToProblem(new Error('secret internals at /var/task/index.js'));

    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('secret internals');
    expect(response.body).not.toContain('/var/task');
    expect(body(response).code).toBe('internal_error');
  });

  it('handles thrown non-errors', () => {
    expect(errorToProblem('a string').statusCode).toBe(500);
    expect(errorToProblem(null).statusCode).toBe(500);
  });
});
