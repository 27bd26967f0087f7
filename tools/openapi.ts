import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOpenApiDocument, OPENAPI_PATH, serializeOpenApi } from '../lib/http/openapi';

/** npm run openapi: regenerates the checked-in OpenAPI document from the zod schemas and the problem catalog. */
const target = join(dirname(fileURLToPath(import.meta.url)), '..', OPENAPI_PATH);
writeFileSync(target, serializeOpenApi(buildOpenApiDocument()));
process.stdout.write(`wrote ${OPENAPI_PATH}\n`);
