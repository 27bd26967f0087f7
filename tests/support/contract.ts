import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020';
import { OPENAPI_PATH, type OpenApiDocument } from '../../lib/http/openapi';

/**
 * Contract checks: a real HTTP answer against the checked-in OpenAPI document (a test keeps
 * that copy equal to the generated one). Ajv validates with JSON Schema 2020-12, the dialect
 * of OpenAPI 3.1, in strict mode with every error reported.
 */
export interface ContractResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

const DOCUMENT_ID = 'https://password-reset.invalid/openapi.json';

export class ContractValidator {
  private readonly ajv = new Ajv2020({ strict: true, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: OpenApiDocument) {
    // Only the component schemas are JSON Schema; the rest of the document is OpenAPI.
    const components = (document.components ?? {}) as { schemas?: Record<string, unknown> };
    this.ajv.addSchema({ $id: DOCUMENT_ID, $defs: components.schemas ?? {} });
  }

  /** Whether the document describes this operation at all (it describes only the public API). */
  describes(method: string, path: string): boolean {
    return this.operation(method, path) !== undefined;
  }

  /** Every way the answer departs from the document; empty when it matches. */
  check(method: string, path: string, response: ContractResponse): string[] {
    const operation = this.operation(method, path);
    if (!operation) return [`${method} ${path} is not in ${OPENAPI_PATH}`];
    const responses = operation.responses as Record<string, Record<string, unknown>>;
    const documented = responses[String(response.status)];
    if (!documented) {
      return [
        `status ${response.status} is not documented (documented: ${Object.keys(responses).join(', ')})`,
      ];
    }
    const where = `${method} ${path} ${response.status}`;
    return [
      ...this.checkHeaders(where, documented, response),
      ...this.checkBody(where, documented, response),
    ];
  }

  private checkHeaders(where: string, documented: Record<string, unknown>, response: ContractResponse) {
    const problems: string[] = [];
    const headers = (documented.headers ?? {}) as Record<string, Record<string, unknown>>;
    for (const [name, reference] of Object.entries(headers)) {
      const header = this.resolve(reference);
      const value = response.headers[name.toLowerCase()];
      if (value === undefined) {
        if (header.required) problems.push(`${where}: header ${name} is missing`);
        continue;
      }
      const schema = header.schema as Record<string, unknown>;
      // Header values are strings on the wire; an integer header is a string of digits.
      const typed = schema.type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value;
      const validate = this.validator(`header:${name}`, schema);
      if (!validate(typed))
        problems.push(
          `${where}: header ${name}: ${JSON.stringify(value)}: ${this.errors(validate, 'value')}`,
        );
    }
    return problems;
  }

  private checkBody(where: string, documented: Record<string, unknown>, response: ContractResponse) {
    const content = documented.content as Record<string, { schema: Record<string, unknown> }> | undefined;
    if (!content) return response.text === '' ? [] : [`${where}: a body was sent where none is documented`];
    const mediaType = (response.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    const media = content[mediaType];
    if (!media) {
      return [
        `${where}: content type ${JSON.stringify(mediaType)} is not documented (${Object.keys(content)})`,
      ];
    }
    let body: unknown;
    try {
      body = JSON.parse(response.text);
    } catch {
      return [`${where}: the body is not JSON: ${response.text.slice(0, 120)}`];
    }
    const validate = this.validator(`body:${where}:${mediaType}`, media.schema);
    if (validate(body)) return [];
    return [`${where}: ${this.errors(validate)}; the body was ${response.text.slice(0, 300)}`];
  }

  private operation(method: string, path: string): Record<string, unknown> | undefined {
    return this.document.paths[path]?.[method.toLowerCase()];
  }

  /** Follows a local `#/components/...` reference. */
  private resolve(node: Record<string, unknown>): Record<string, unknown> {
    const ref = node.$ref;
    if (typeof ref !== 'string') return node;
    let target: unknown = this.document;
    for (const part of ref.replace(/^#\//, '').split('/')) target = (target as Record<string, unknown>)[part];
    if (!target) throw new Error(`unresolved reference ${ref} in ${OPENAPI_PATH}`);
    return target as Record<string, unknown>;
  }

  /** Compiles a schema, pointing its `#/components/schemas/...` references at the document's schemas. */
  private validator(key: string, schema: Record<string, unknown>): ValidateFunction {
    const cached = this.compiled.get(key);
    if (cached) return cached;
    const rebased = JSON.parse(
      JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${DOCUMENT_ID}#/$defs/`),
    ) as Record<string, unknown>;
    const validate = this.ajv.compile(rebased);
    this.compiled.set(key, validate);
    return validate;
  }

  /** Ajv's errors, naming the extra member or the allowed values where Ajv knows them. */
  private errors(validate: ValidateFunction, dataVar = 'body'): string {
    return (validate.errors ?? [])
      .map((error) => {
        const params = error.params as { additionalProperty?: string; allowedValue?: unknown };
        const extra =
          params.additionalProperty !== undefined
            ? ` (${params.additionalProperty})`
            : params.allowedValue !== undefined
              ? ` (${JSON.stringify(params.allowedValue)})`
              : '';
        return `${dataVar}${error.instancePath} ${error.message}${extra}`;
      })
      .join(', ');
  }
}

/** The fixed header values the document promises, lowercased as fetch() reports them. */
export function documentedHeaderValues(document: OpenApiDocument): Record<string, string> {
  const { headers } = document.components as { headers: Record<string, { schema: { const?: unknown } }> };
  return Object.fromEntries(
    Object.entries(headers)
      .filter(([, header]) => typeof header.schema.const === 'string')
      .map(([name, header]) => [name.toLowerCase(), header.schema.const as string]),
  );
}

let shared: ContractValidator | undefined;

/** The validator of the checked-in document, loaded once per test file. */
export function contract(): ContractValidator {
  if (!shared) {
    const file = join(dirname(fileURLToPath(import.meta.url)), '..', '..', OPENAPI_PATH);
    shared = new ContractValidator(JSON.parse(readFileSync(file, 'utf8')) as OpenApiDocument);
  }
  return shared;
}

/**
 * Throws when an answer of a documented operation departs from the document. Operations the
 * document does not describe (the /__local routes, the pages, other methods) pass unchecked.
 */
export function expectMatchesContract(method: string, path: string, response: ContractResponse): void {
  const validator = contract();
  if (!validator.describes(method, path)) return;
  const problems = validator.check(method, path, response);
  if (problems.length > 0) {
    throw new Error(
      `The answer does not match the OpenAPI contract (${OPENAPI_PATH}):\n  ${problems.join('\n  ')}\n` +
        'Fix the service, or change the schemas or lib/http/openapi.ts and run `npm run openapi`.',
    );
  }
}
