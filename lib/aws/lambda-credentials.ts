import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Stands in for @aws-sdk/credential-provider-node in the deployed bundles only (infra/bundling.ts
 * aliases it here). Lambda hands the function role's credentials to the process as environment
 * variables, so the rest of the default chain (SSO, STS web identity, ini files, IMDS, the
 * nested clients they need) is dead weight at cold start. Local runs and tests are not bundled
 * and keep the default chain.
 */
export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => fromEnv(init);
