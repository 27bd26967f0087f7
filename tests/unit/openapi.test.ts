import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020';
import { describe, expect, it } from 'vitest';
import {
  buildOpenApiDocument,
  OPENAPI_PATH,
  problemSchemaName,
  serializeOpenApi,
} from '../../lib/http/openapi';
import { PROBLEM_CODES, problemResponse } from '../../lib/http/problem';
import { ROUTES } from '../../lib/http/routes';
import { confirmResetBody, REQUEST_ACCEPTED_BODY, requestResetBody } from '../../lib/http/schemas';
import { ContractValidator, documentedHeaderValues } from '../support/contract';

const document = buildOpenApiDocument();
const validator = new ContractValidator(document);
const REQUEST = ROUTES.request;
const CONFIRM = ROUTES.confirm;

/** An answer as the endpoint sends it: the middy stack's headers, then the body's content type. */
function answer(
  status: number,
  body: unknown,
  extraHeaders: Record<string, string> = {},
): { status: number; headers: Record<string, string>; text: string } {
  const headers = documentedHeaderValues(document);
  const contentType = status === 200 ? 'application/json' : 'application/problem+json';
  return {
    status,
    headers: { ...headers, 'content-type': contentType, ...extraHeaders },
    text: typeof body === 'string' ? body : JSON.stringify(body),
  };
}
const problem = (code: Parameters<typeof problemResponse>[0], extension: Record<string, unknown> = {}) =>
  ({ ...JSON.parse(problemResponse(code).body ?? '{}'), ...extension }) as Record<string, unknown>;

describe('the checked-in OpenAPI document', () => {
  it('is what the generator builds from the current schemas and catalog', () => {
    const checkedIn = readFileSync(OPENAPI_PATH, 'utf8');

    expect(
      checkedIn === serializeOpenApi(document),
      `${OPENAPI_PATH} is stale: run \`npm run openapi\` and commit the result`,
    ).toBe(true);
  });

  it('describes every public route, and nothing else', () => {
    expect(Object.keys(document.paths).sort()).toEqual(Object.values(ROUTES).sort());
  });

  it('documents every public problem code of the catalog on confirm', () => {
    const schemas = (document.components as { schemas: Record<string, unknown> }).schemas;
    const local = new Set(['not_found', 'method_not_allowed']);

    for (const code of PROBLEM_CODES.filter((c) => !local.has(c))) {
      expect(schemas, code).toHaveProperty(problemSchemaName(code));
      const status = String(problemResponse(code).statusCode);
      expect(JSON.stringify(document.paths[CONFIRM]?.post?.responses), code).toContain(`"${status}":`);
    }
  });
});

describe('the request schemas in the document', () => {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  const schemas = (document.components as { schemas: Record<string, object> }).schemas;
  const requestSchema = ajv.compile(schemas.RequestResetBody as object);
  const confirmSchema = ajv.compile(schemas.ConfirmResetBody as object);

  it('accepts every request body zod accepts, and refuses the wrong shapes zod refuses', () => {
    const accepted = [{ email: 'user@example.com' }, { email: '  USER@example.com ' }];
    const refused = [{ email: 'x' }, { email: 'user@example.com', extra: true }, { email: 12 }, {}, []];

    for (const body of accepted)
      expect([requestResetBody.safeParse(body).success, requestSchema(body)]).toEqual([true, true]);
    for (const body of refused)
      expect([requestResetBody.safeParse(body).success, requestSchema(body)]).toEqual([false, false]);
  });

  it.each([
    { token: 'a', newPassword: 'b' },
    { token: '', newPassword: 'b' },
    { token: 'a', newPassword: 'b', extra: 1 },
    { token: 'a'.repeat(500), newPassword: 'b' },
    { newPassword: 'b' },
  ])('agrees with zod on the confirm body %j', (body) => {
    expect(confirmSchema(body)).toBe(confirmResetBody.safeParse(body).success);
  });
});

describe('the contract validator', () => {
  it('accepts the answers the service builds', () => {
    expect(validator.check('POST', REQUEST, answer(200, REQUEST_ACCEPTED_BODY))).toEqual([]);
    expect(
      validator.check(
        'POST',
        CONFIRM,
        answer(
          422,
          problem('weak_password', {
            violations: [{ rule: 'min_length', message: 'Use at least 15 characters.' }],
          }),
        ),
      ),
    ).toEqual([]);
    expect(
      validator.check('POST', REQUEST, answer(429, problem('rate_limited'), { 'retry-after': '30' })),
    ).toEqual([]);
  });

  it('rejects a body with an extra member', () => {
    const body = { ...JSON.parse(REQUEST_ACCEPTED_BODY), extra: 'x' };

    const problems = validator.check('POST', REQUEST, answer(200, body));

    expect(problems.join('\n')).toMatch(/additional properties/);
  });

  it('rejects a success message that differs from the fixed one', () => {
    const problems = validator.check('POST', REQUEST, answer(200, { message: 'A link is on its way.' }));

    expect(problems).toHaveLength(1);
  });

  it('rejects a code under the wrong status, and a code the endpoint never sends', () => {
    expect(validator.check('POST', CONFIRM, answer(400, problem('rate_limited')))).not.toEqual([]);
    expect(validator.check('POST', REQUEST, answer(400, problem('invalid_or_expired_token')))).not.toEqual(
      [],
    );
  });

  it('rejects weak_password without its violations', () => {
    expect(validator.check('POST', CONFIRM, answer(422, problem('weak_password')))).not.toEqual([]);
  });

  it('rejects an undocumented status', () => {
    const problems = validator.check(
      'POST',
      REQUEST,
      answer(422, problem('weak_password', { violations: [] })),
    );

    expect(problems).toEqual([expect.stringMatching(/status 422 is not documented/)]);
  });

  it('rejects a missing or wrong security header, and a Retry-After that is not a number of seconds', () => {
    const { 'cache-control': _dropped, ...withoutNoStore } = answer(200, REQUEST_ACCEPTED_BODY).headers;

    expect(
      validator.check('POST', REQUEST, { ...answer(200, REQUEST_ACCEPTED_BODY), headers: withoutNoStore }),
    ).toEqual([expect.stringMatching(/header Cache-Control is missing/)]);
    expect(
      validator.check('POST', REQUEST, answer(200, REQUEST_ACCEPTED_BODY, { pragma: 'public' })),
    ).toEqual([expect.stringMatching(/header Pragma/)]);
    expect(validator.check('POST', REQUEST, answer(429, problem('rate_limited')))).toEqual([
      expect.stringMatching(/header Retry-After is missing/),
    ]);
    expect(
      validator.check(
        'POST',
        REQUEST,
        answer(503, problem('service_unavailable'), { 'retry-after': 'soon' }),
      ),
    ).toEqual([expect.stringMatching(/header Retry-After/)]);
  });

  it('rejects a problem sent as application/json', () => {
    const response = answer(400, problem('invalid_request'), { 'content-type': 'application/json' });

    expect(validator.check('POST', REQUEST, response)).toEqual([expect.stringMatching(/content type/)]);
  });

  it('says which operations it describes', () => {
    expect(validator.describes('POST', REQUEST)).toBe(true);
    expect(validator.describes('GET', REQUEST)).toBe(false);
    expect(validator.describes('GET', '/__local/outbox')).toBe(false);
  });
});
