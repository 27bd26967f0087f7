import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from './app';
import { VARIANTS } from './variants';

/**
 * `npm run lint:templates`: synthesizes the stack in its main variants and lints every template
 * with cfn-lint (a Python tool: `pip install cfn-lint`). Fails on any cfn-lint error or warning.
 * The variants are in infra/variants.ts.
 */

/** cfn-lint rules left off, each with its reason. */
const IGNORED_RULES: Record<string, string> = {
  W3005:
    'aws-cdk-lib adds a DependsOn from each function (ours and its own providers) to its role next to the GetAtt of the role: redundant, harmless, and generated, not written here.',
};

function synthesize(name: string, context: Record<string, string>): string[] {
  const outdir = mkdtempSync(join(tmpdir(), `cfn-lint-${name}-`));
  // Templates only: asset bundling does not change them, and takes a minute per variant.
  const app = new App({ outdir, context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  buildApp(app);
  app.synth();
  return readdirSync(outdir)
    .filter((file) => file.endsWith('.template.json'))
    .map((file) => join(outdir, file));
}

const version = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
if (version.status !== 0) {
  console.error('cfn-lint not found: install it with `pip install cfn-lint`');
  process.exit(1);
}
console.log(`[lint-templates] ${version.stdout.trim()}`);
const ignore = Object.keys(IGNORED_RULES);
let failed = 0;
for (const [name, context] of Object.entries(
  process.argv[2] ? { [process.argv[2]]: VARIANTS[process.argv[2]] ?? {} } : VARIANTS,
)) {
  const templates = synthesize(name, context);
  const result = spawnSync(
    'cfn-lint',
    [...(ignore.length ? ['--ignore-checks', ...ignore] : []), '--', ...templates],
    {
      encoding: 'utf8',
    },
  );
  const findings = result.stdout.trim();
  console.log(
    `[lint-templates] ${name}: ${templates.length} template(s), ${result.status === 0 ? 'no findings' : `cfn-lint exit ${result.status}`}`,
  );
  if (result.status !== 0) {
    failed++;
    console.log(findings || result.stderr);
  }
}
if (failed > 0) process.exit(1);
