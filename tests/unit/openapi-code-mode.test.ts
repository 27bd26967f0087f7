import { describe, expect, it, vi } from 'vitest';
import { buildOpenApiDocument } from '../../lib/http/openapi';
import { REQUEST_ACCEPTED_BODY } from '../../lib/http/schemas';
import { ContractValidator, documentedHeaderValues } from '../support/contract';

/**
 * The generator on request schemas shaped as code mode will shape them (ROUND2 decision 2):
 * `method` on the request, and a union of the link and code bodies on confirm. It shows that
 * `npm run openapi` picks code mode up from the schemas alone, with no edit to the generator.
 */
vi.mock('../../lib/http/schemas', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../lib/http/schemas')>();
  const z = await import('zod');
  const newPassword = z.string().check(z.minLength(1), z.maxLength(256));
  return {
    ...actual,
    requestResetBody: z.strictObject({
      email: z.pipe(z.string().check(z.trim(), z.minLength(3), z.maxLength(254)), z.email()),
      method: z.optional(z.enum(['link', 'code'])),
    }),
    confirmResetBody: z.union([
      z.strictObject({ token: z.string().check(z.minLength(1), z.maxLength(132)), newPassword }),
      z.strictObject({
        flowId: z.string().check(z.minLength(1), z.maxLength(64)),
        code: z.string().check(z.regex(/^[0-9]{6,10}$/)),
        newPassword,
      }),
    ]),
  };
});

const document = buildOpenApiDocument();
const schemas = (document.components as { schemas: Record<string, Record<string, unknown>> }).schemas;
const examplesOf = (path: string) => {
  const body = document.paths[path]?.post?.requestBody as
    | { content: Record<string, { examples?: object }> }
    | undefined;
  return Object.keys(body?.content['application/json']?.examples ?? {});
};

describe('the OpenAPI document with code mode in the schemas', () => {
  it('documents both confirm bodies as a union, each member described', () => {
    const confirm = schemas.ConfirmResetBody as { anyOf: Array<{ properties: Record<string, object> }> };

    expect(confirm.anyOf).toHaveLength(2);
    expect(Object.keys(confirm.anyOf[1]?.properties ?? {})).toEqual(['flowId', 'code', 'newPassword']);
    expect(confirm.anyOf[1]?.properties.code).toMatchObject({
      pattern: '^[0-9]{6,10}$',
      description: expect.any(String),
    });
  });

  it('documents the request method and a flowId in the 200 answer', () => {
    expect(schemas.RequestResetBody?.properties).toMatchObject({ method: { enum: ['link', 'code'] } });
    expect(schemas.RequestAccepted?.properties).toHaveProperty('flowId');
    expect(schemas.RequestAccepted?.required).toEqual(['message']);
  });

  it('shows a link and a code example for each endpoint', () => {
    expect(examplesOf('/api/auth/password-reset/request')).toEqual(['link', 'code']);
    expect(examplesOf('/api/auth/password-reset/confirm')).toEqual(['link', 'code']);
  });

  it('accepts a code-mode answer with a flowId, and refuses a malformed one', () => {
    const validator = new ContractValidator(document);
    const answer = (flowId: string) => ({
      status: 200,
      headers: { ...documentedHeaderValues(document), 'content-type': 'application/json' },
      text: JSON.stringify({ ...JSON.parse(REQUEST_ACCEPTED_BODY), flowId }),
    });

    expect(
      validator.check('POST', '/api/auth/password-reset/request', answer('Qm9vZ2llV29vZ2llQm9vZ2')),
    ).toEqual([]);
    expect(validator.check('POST', '/api/auth/password-reset/request', answer('short'))).not.toEqual([]);
  });
});
