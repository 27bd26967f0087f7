import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { BUNDLING, BUNDLING_ALIAS } from '../infra/bundling';
import { LOCAL_DEFAULTS } from '../local/server';
import { bundle, checkout, treeAt } from './bundles';
import { replaceReadmeBlock } from './report';
import { median } from './stats';

/**
 * Cold start, approximated as the time to import each handler bundle in a fresh Node process,
 * minus a bare `node -e 0`. Bundles are built with the same esbuild options as the CDK stack,
 * then again with the AWS SDK left external for comparison. Handlers make no network call at
 * import (the kill-switch is read on first use), so no SSM endpoint is needed here.
 */
const HANDLERS = { request: 'functions/request-reset.ts', confirm: 'functions/confirm-reset.ts' } as const;
const RUNS = 20;

function timeOnce(args: string[], env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  execFileSync(process.execPath, args, { env, stdio: 'ignore' });
  return performance.now() - started;
}

function timeNode(args: string[], env: NodeJS.ProcessEnv): number[] {
  return Array.from({ length: RUNS }, () => timeOnce(args, env));
}

const importArgs = (file: string) => ['--input-type=module', '-e', `await import(${JSON.stringify(file)})`];

/**
 * Wall time, and the child's own CPU time (all its threads, from process start to the end of the
 * import). On a shared machine the CPU time moves far less with load than the wall time does.
 */
const REPORT_CPU = 'process.stdout.write(JSON.stringify(process.cpuUsage()))';
type Timing = { wallMs: number; cpuMs: number };
function timeWithCpu(file: string | undefined): Timing {
  const args = file
    ? ['--input-type=module', '-e', `await import(${JSON.stringify(file)}); ${REPORT_CPU}`]
    : ['-e', REPORT_CPU];
  const started = performance.now();
  const output = execFileSync(process.execPath, args, { env: ENV, stdio: ['ignore', 'pipe', 'ignore'] });
  const wallMs = performance.now() - started;
  const cpu = JSON.parse(output.toString()) as { user: number; system: number };
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const ENV = {
  PATH: process.env.PATH,
  ...LOCAL_DEFAULTS,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

export async function runColdStart() {
  const env = ENV;
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
      const importMs = median(timeNode(importArgs(file), env));
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

/** Issue 12's budget: each API bundle's minified size and cold import over `node -e 0`. */
export const BUDGET = {
  request: { kib: 350, importMs: 50 },
  confirm: { kib: 450, importMs: 50 },
} as const;

interface BudgetRow {
  handler: keyof typeof HANDLERS;
  tree: string;
  bytes: number;
  importMedianMs: number;
  importMinusBaselineMs: number;
  importCpuMinusBaselineMs: number;
}

const medianOf = (times: Timing[], key: keyof Timing) => median(times.map((t) => t[key]));

/**
 * The budget check: the SDK-bundled API bundles of this tree, and optionally of an older commit
 * (`--before <ref>`, each built with its own commit's infra/bundling.ts), timed in one run with
 * their runs interleaved with `node -e 0`, so that both sides see the same machine load.
 */
export async function runBudget(beforeRef?: string) {
  const trees: Array<{ label: string; root: string }> = [{ label: 'after', root: process.cwd() }];
  if (beforeRef) trees.unshift({ label: `before (${beforeRef})`, root: checkout(beforeRef) });
  const bundles: Array<{ handler: keyof typeof HANDLERS; tree: string; file: string; times: Timing[] }> = [];
  for (const tree of trees) {
    const settings = await treeAt(tree.root);
    for (const [handler, entry] of Object.entries(HANDLERS) as Array<[keyof typeof HANDLERS, string]>) {
      const outdir = resolve('.bench/bundles', `${handler}-${tree.label.replace(/\W+/g, '-')}`);
      const file = await bundle(entry, outdir, false, settings);
      bundles.push({ handler, tree: tree.label, file, times: [] });
    }
  }
  const load = [loadavg()[0] ?? 0];
  const baseline: Timing[] = [];
  for (let i = 0; i < RUNS; i++) {
    baseline.push(timeWithCpu(undefined));
    for (const b of bundles) b.times.push(timeWithCpu(b.file));
  }
  load.push(loadavg()[0] ?? 0);
  const rows: BudgetRow[] = bundles.map((b) => ({
    handler: b.handler,
    tree: b.tree,
    bytes: statSync(b.file).size,
    importMedianMs: medianOf(b.times, 'wallMs'),
    importMinusBaselineMs: medianOf(b.times, 'wallMs') - medianOf(baseline, 'wallMs'),
    importCpuMinusBaselineMs: medianOf(b.times, 'cpuMs') - medianOf(baseline, 'cpuMs'),
  }));
  return {
    runs: RUNS,
    nodeBaselineMedianMs: medianOf(baseline, 'wallMs'),
    nodeBaselineCpuMs: medianOf(baseline, 'cpuMs'),
    loadAverage1m: load,
    rows,
  };
}

/**
 * Where the request bundle's import time goes (and what the generated clients it no longer
 * bundles would cost): small entries bundled with the same options and
 * timed the same way, each the cost of one part alone (parts share code, so they do not add up).
 */
const PARTS: Record<string, string> = {
  'an empty ES module (the cost of any import)': 'export const parts = 1;',
  'AWS SDK: DynamoDB document client and SQS client, constructed': `
    import { SQSClient } from '@aws-sdk/client-sqs';
    import { createDocumentClient } from './lib/dynamo';
    export const parts = [createDocumentClient(), new SQSClient({ maxAttempts: 3 })];`,
  'signed DynamoDB UpdateItem and SQS SendMessage (lib/aws), constructed: what the request function uses instead': `
    import { signedSendMessage } from './lib/aws/send-message';
    import { signedUpdateItem } from './lib/aws/update-item';
    export const parts = [signedUpdateItem(), signedSendMessage()];`,
  'Powertools Logger and Metrics, constructed': `
    import { Logger } from '@aws-lambda-powertools/logger';
    import { Metrics } from '@aws-lambda-powertools/metrics';
    export const parts = [new Logger({ serviceName: 'x' }), new Metrics({ namespace: 'x', serviceName: 'x' })];`,
  'zod/mini and loadConfig (schema built, environment parsed)': `
    import { loadConfig } from './lib/config';
    export const parts = loadConfig(process.env);`,
  'SSM and Secrets Manager providers (lib/aws), constructed': `
    import { SecretValueProvider, SsmParameterProvider } from './lib/aws/parameter-providers';
    const o = { maxAttempts: 2, connectionTimeoutMs: 1000, requestTimeoutMs: 2000 };
    export const parts = [new SsmParameterProvider(o), new SecretValueProvider(o)];`,
  'middy and the shared endpoint stack': `
    export * from './lib/http/endpoint';`,
};

export async function runParts() {
  const files: Array<{ part: string; file: string; times: Timing[] }> = [];
  for (const [index, [part, contents]] of Object.entries(PARTS).entries()) {
    const outfile = resolve('.bench/bundles/parts', String(index), 'index.mjs');
    await build({
      stdin: { contents, resolveDir: process.cwd(), loader: 'ts' },
      outfile,
      bundle: true,
      platform: 'node',
      target: BUNDLING.target,
      format: 'esm',
      minify: BUNDLING.minify,
      alias: BUNDLING_ALIAS,
      mainFields: BUNDLING.mainFields,
      banner: { js: BUNDLING.banner },
      external: BUNDLING.externalModules,
      logLevel: 'silent',
    });
    files.push({ part, file: outfile, times: [] });
  }
  const baseline: Timing[] = [];
  for (let i = 0; i < RUNS; i++) {
    baseline.push(timeWithCpu(undefined));
    for (const f of files) f.times.push(timeWithCpu(f.file));
  }
  return files.map((f) => ({
    part: f.part,
    bytes: statSync(f.file).size,
    importMinusBaselineMs: medianOf(f.times, 'wallMs') - medianOf(baseline, 'wallMs'),
    importCpuMinusBaselineMs: medianOf(f.times, 'cpuMs') - medianOf(baseline, 'cpuMs'),
  }));
}

function budgetMarkdown(result: Awaited<ReturnType<typeof runBudget>>, command: string): string {
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
  const plus = (value: number) => `+${value.toFixed(1)} ms`;
  const trees = [...new Set(result.rows.map((row) => row.tree))];
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`${command}\` on ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), Node ${process.version}: medians of ${result.runs} runs, the bundles' runs interleaved with \`node -e 0\` (${result.nodeBaselineMedianMs.toFixed(1)} ms; its own CPU time ${result.nodeBaselineCpuMs.toFixed(1)} ms). "Import" is the wall time over \`node -e 0\`, "CPU" the importing process's own CPU time over \`node -e 0\`'s, which machine load inflates far less. Load average (1 min) ${result.loadAverage1m.map((value) => value.toFixed(2)).join(' at the start, ')} at the end.`,
    '',
    `| bundle | ${trees.join(' | ')} | target | met |`,
    `| --- | ${trees.map(() => '---').join(' | ')} | --- | --- |`,
  ];
  for (const handler of Object.keys(HANDLERS) as Array<keyof typeof HANDLERS>) {
    const cells = trees.map((tree) => {
      const row = result.rows.find((r) => r.handler === handler && r.tree === tree);
      return row
        ? `${kib(row.bytes)} (${row.bytes.toLocaleString('en-US')} B); import ${plus(row.importMinusBaselineMs)}, CPU ${plus(row.importCpuMinusBaselineMs)}`
        : '';
    });
    const after = result.rows.find((r) => r.handler === handler && r.tree === 'after');
    const budget = BUDGET[handler];
    const sizeMet = after && after.bytes <= budget.kib * 1024 ? 'yes' : 'no';
    const timeMet = after && after.importMinusBaselineMs <= budget.importMs ? 'yes' : 'no';
    const cpuMet = after && after.importCpuMinusBaselineMs <= budget.importMs ? 'yes' : 'no';
    lines.push(
      `| ${handler} | ${cells.join(' | ')} | ${budget.kib} KiB; import +${budget.importMs} ms | size ${sizeMet}, import ${timeMet} (CPU ${cpuMet}) |`,
    );
  }
  return lines.join('\n');
}

// `npm run bench:cold-start [-- --before <ref>] [--readme]`: the budget table alone, in about a
// minute; `-- --parts` times the request bundle's main parts alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      before: { type: 'string' },
      readme: { type: 'boolean', default: false },
      parts: { type: 'boolean', default: false },
    },
  });
  if (values.parts) {
    const load = loadavg()[0] ?? 0;
    const parts = await runParts();
    const markdown = [
      `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:cold-start -- --parts${values.readme ? ' --readme' : ''}\`, medians of ${RUNS} runs interleaved with \`node -e 0\`; load average (1 min) ${load.toFixed(2)} at the start, ${(loadavg()[0] ?? 0).toFixed(2)} at the end.`,
      '',
      '| part, alone | size | import over `node -e 0` (wall) | CPU time over `node -e 0` |',
      '| --- | --- | --- | --- |',
      ...parts.map(
        (row) =>
          `| ${row.part} | ${(row.bytes / 1024).toFixed(0)} KiB | +${row.importMinusBaselineMs.toFixed(1)} ms | +${row.importCpuMinusBaselineMs.toFixed(1)} ms |`,
      ),
    ].join('\n');
    console.log(markdown);
    if (values.readme) replaceReadmeBlock('coldstart-parts', markdown);
    process.exit(0);
  }
  const result = await runBudget(values.before);
  const flags = [values.before ? `--before ${values.before}` : '', values.readme ? '--readme' : ''];
  const markdown = budgetMarkdown(result, `npm run bench:cold-start -- ${flags.join(' ').trim()}`);
  console.log(markdown);
  if (values.readme) replaceReadmeBlock('coldstart', markdown);
}
