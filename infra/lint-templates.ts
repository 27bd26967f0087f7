import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from './app';

/**
 * `npm run lint:templates`: synthesizes the stack in its main variants and lints every template
 * with cfn-lint (a Python tool: `pip install cfn-lint`). Fails on any cfn-lint error or warning.
 * Add a variant here when a new option lands (e.g. an email provider, the events bus).
 */
const PROD = {
  stage: 'prod',
  account: '123456789012',
  region: 'eu-west-1',
  alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
  resetLinkTemplate: 'https://market.example.com/reset-password#token={token}',
};
const SES = {
  emailProvider: 'ses',
  emailFrom: 'Market <no-reply@market.example.com>',
  sesIdentity: 'market.example.com',
};
const SMTP = {
  emailProvider: 'smtp',
  emailFrom: 'no-reply@market.example.com',
  smtpSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:password-reset/smtp-AbCdEf',
};
const IMPORTED_USERS = {
  existingUsersTableName: 'marketplace-users',
  existingUsersEmailIndexName: 'by-email',
};
const EDGE = {
  edgeProtection: 'true',
  domainName: 'reset.market.example.com',
  certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
};

export const VARIANTS: Record<string, Record<string, string>> = {
  dev: {},
  'prod-every-option': {
    ...PROD,
    ...SES,
    ...IMPORTED_USERS,
    ...EDGE,
    existingUsersTableKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d',
    corsOrigins: 'https://market.example.com,https://m.market.example.com',
    tracing: 'true',
    requestReservedConcurrency: '20',
    confirmReservedConcurrency: '40',
    bcryptCost: '13',
    confirmMemoryMb: '1769',
    passwordCompositionRules: 'true',
    rateLimitRequestIp: '10/15m',
  },
  prod: { ...PROD, ...SES },
  'prod-smtp': { ...PROD, ...SMTP },
  'email-ses-imported-identity': { ...SES, importSesIdentity: 'true' },
  'imported-users-table': IMPORTED_USERS,
  // PasswordChanged events are on by default (every variant above has them): off, and an existing bus.
  'events-off': { passwordChangedEvents: 'false' },
  'events-existing-bus': { ...PROD, ...SES, eventBusName: 'marketplace-bus' },
  'edge-protection': { ...EDGE, account: PROD.account, region: PROD.region },
};

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
