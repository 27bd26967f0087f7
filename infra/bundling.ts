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
  target: 'node24',
  format: 'esm' as OutputFormat,
  mainFields: ['module', 'main'],
  externalModules: [] as string[],
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  forceDockerBundling: false,
};
