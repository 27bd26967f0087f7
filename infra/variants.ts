/**
 * The stack's main variants, one per option that changes what is deployed: `npm run lint:templates`
 * lints each, and a test pins the logical IDs of their stateful resources.
 * Add a variant here when a new option lands (e.g. an email provider, the events bus).
 */
export const PROD = {
  stage: 'prod',
  account: '123456789012',
  region: 'eu-west-1',
  alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
  resetLinkTemplate: 'https://market.example.com/reset-password#token={token}',
};
export const SES = {
  emailProvider: 'ses',
  emailFrom: 'Market <no-reply@market.example.com>',
  sesIdentity: 'market.example.com',
};
export const SMTP = {
  emailProvider: 'smtp',
  emailFrom: 'no-reply@market.example.com',
  smtpSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:password-reset/smtp-AbCdEf',
};
const IMPORTED_USERS = {
  existingUsersTableName: 'marketplace-users',
  existingUsersEmailIndexName: 'by-email',
};
export const EDGE = {
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
