import * as z from 'zod/mini';
import '../zod-messages';

/**
 * The email kill-switch, an SSM parameter holding {"enabled": boolean, "dryRun": boolean}.
 * Powertools Parameters caches the value per container. The switch fails closed: an
 * unreadable or malformed parameter means no email goes out.
 */
export type KillSwitchState = 'deliver' | 'dry_run' | 'disabled' | 'unavailable';

export interface KillSwitch {
  read(): Promise<KillSwitchState>;
}

export interface KillSwitchOptions {
  /** A Powertools Parameters provider (lib/aws/parameter-providers.ts), or a fake in tests. */
  provider: { get(name: string, options: { maxAge: number }): Promise<unknown> };
  parameterName: string;
  cacheSeconds: number;
  now: () => number;
  /** Called once per failed fetch, for the error log and the fail-closed metric. */
  onUnavailable: (error: unknown) => void;
}

const switchValue = z.strictObject({ enabled: z.boolean(), dryRun: z.boolean() });

/** After a failed fetch, wait this long before asking SSM again, so an outage is not a retry storm. */
const FAILURE_BACKOFF_MS = 5_000;

export function createKillSwitch(options: KillSwitchOptions): KillSwitch {
  let retryAfter = 0;
  return {
    async read() {
      const now = options.now();
      if (now < retryAfter) return 'unavailable';
      try {
        const raw = await options.provider.get(options.parameterName, { maxAge: options.cacheSeconds });
        const value = switchValue.parse(JSON.parse(String(raw)));
        if (!value.enabled) return 'disabled';
        return value.dryRun ? 'dry_run' : 'deliver';
      } catch (error) {
        retryAfter = now + Math.min(FAILURE_BACKOFF_MS, options.cacheSeconds * 1000);
        options.onUnavailable(error);
        return 'unavailable';
      }
    },
  };
}
