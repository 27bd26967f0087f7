import { SecretValueProvider } from './aws/parameter-providers';
import { ConfigError } from './errors';

/**
 * Settings whose deployed value lives in Secrets Manager: the function's environment holds only
 * the secret's ARN (the key), and the value is read once at cold start (the value).
 */
export const SECRET_SETTINGS = {
  ACCOUNT_KEY_SECRET_ARN: 'ACCOUNT_KEY_SALT',
  ORIGIN_VERIFY_SECRET_ARN: 'ORIGIN_VERIFY_SECRET',
} as const;

/** How long the Powertools cache keeps a value; containers read it at cold start only anyway. */
const CACHE_SECONDS = 15 * 60;

export interface SecretReader {
  get(name: string, options: { maxAge: number }): Promise<unknown>;
}

let defaultReader: SecretReader | undefined;
const secretsProvider = (): SecretReader => {
  defaultReader ??= new SecretValueProvider({
    maxAttempts: 3,
    connectionTimeoutMs: 1_000,
    requestTimeoutMs: 2_000,
  });
  return defaultReader;
};

/**
 * Returns the environment with every secret-backed setting filled in from Secrets Manager,
 * through Powertools Parameters (cached). An empty or non-string secret stops the cold start:
 * an empty salt would make every pseudonymous key guessable.
 */
export async function resolveSecretSettings(
  env: NodeJS.ProcessEnv,
  reader: SecretReader = secretsProvider(),
): Promise<NodeJS.ProcessEnv> {
  const resolved: NodeJS.ProcessEnv = { ...env };
  for (const [arnName, settingName] of Object.entries(SECRET_SETTINGS)) {
    const arn = env[arnName];
    if (!arn) continue;
    const value = await reader.get(arn, { maxAge: CACHE_SECONDS });
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ConfigError(
        `Invalid configuration: ${arnName}: the secret holds no value for ${settingName}`,
      );
    }
    resolved[settingName] = value;
  }
  return resolved;
}
