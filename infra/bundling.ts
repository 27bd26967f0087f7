import type { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

/**
 * How the functions are bundled: by the locally installed esbuild (no Docker), minified, with a
 * sourcemap, and with the AWS SDK bundled rather than taken from the runtime (a bundled SDK
 * imports faster). ESM needs a `require` shim for CommonJS dependencies. The benchmark bundles
 * with these same options, so its cold-start figures describe what is deployed.
 */
export const BUNDLING = {
  minify: true,
  sourceMap: true,
  // Source maps name files and lines for stack traces; the source itself stays out of the artifact.
  sourcesContent: false,
  target: 'node24',
  format: 'esm' as OutputFormat,
  mainFields: ['module', 'main'],
  // Everything is bundled except the SDK's event-stream serde, which the SDK loads with a dynamic
  // import only for event-stream operations. No client of these functions has one (DynamoDB, SQS,
  // SESv2, EventBridge), so that import never runs; left out, it is 15 KiB less to load. A test
  // loads each API bundle with no node_modules beside it.
  externalModules: ['@smithy/core/event-streams'] as string[],
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  forceDockerBundling: false,
  // Lambda's environment credentials only: drops the SSO/STS/ini/IMDS providers and their
  // nested clients (lib/aws/lambda-credentials.ts). Relative to the project root, where CDK runs esbuild.
  esbuildArgs: { '--alias': `@aws-sdk/credential-provider-node=${'./lib/aws/lambda-credentials.ts'}` },
};

/** The same alias as an esbuild API option, for the benchmark's own builds. */
export const BUNDLING_ALIAS = { '@aws-sdk/credential-provider-node': './lib/aws/lambda-credentials.ts' };
