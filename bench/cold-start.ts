import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { BUNDLING, BUNDLING_ALIAS } from '../infra/bundling';
import { LOCAL_DEFAULTS } from '../local/server';
import { median } from './stats';

/**
 * Cold start, approximated as the time to import each handler bundle in a fresh Node process,
 * minus a bare `node -e 0`. Bundles are built with the same esbuild options as the CDK stack,
 * then again with the AWS SDK left external for comparison. Handlers make no network call at
 * import (the kill-switch is read on first use), so no SSM endpoint is needed here.
 */
const HANDLERS = { request: 'functions/request-reset.ts', confirm: 'functions/confirm-reset.ts' } as const;
const RUNS = 20;

async function bundle(entry: string, outdir: string, sdkExternal: boolean): Promise<string> {
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, 'index.mjs');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: BUNDLING.target,
    format: 'esm',
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourceMap,
    sourcesContent: BUNDLING.sourcesContent,
    alias: BUNDLING_ALIAS,
    mainFields: BUNDLING.mainFields,
    banner: { js: BUNDLING.banner },
    external: sdkExternal ? ['@aws-sdk/*', '@smithy/*'] : BUNDLING.externalModules,
    logLevel: 'silent',
  });
  return outfile;
}

function timeNode(args: string[], env: NodeJS.ProcessEnv): number[] {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    execFileSync(process.execPath, args, { env, stdio: 'ignore' });
    times.push(performance.now() - started);
  }
  return times;
}

export async function runColdStart() {
  const env = {
    PATH: process.env.PATH,
    ...LOCAL_DEFAULTS,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const baseline = median(timeNode(['-e', '0'], env));
  const rows = [];
  for (const [name, entry] of Object.entries(HANDLERS)) {
    for (const sdkExternal of [false, true]) {
      // Inside the project, so an external SDK resolves from node_modules as it would from a layer.
      const file = await bundle(
        entry,
        resolve('.bench/bundles', `${name}${sdkExternal ? '-sdk-external' : ''}`),
        sdkExternal,
      );
      const importMs = median(
        timeNode(['--input-type=module', '-e', `await import(${JSON.stringify(file)})`], env),
      );
      rows.push({
        handler: name,
        sdk: sdkExternal ? 'external' : 'bundled',
        bytes: statSync(file).size,
        gzipBytes: gzipSync(readFileSync(file)).length,
        importMedianMs: importMs,
        importMinusBaselineMs: importMs - baseline,
      });
    }
  }
  return { runs: RUNS, nodeBaselineMedianMs: baseline, bundles: rows };
}
