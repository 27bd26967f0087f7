import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Every rate limit lifted: all benchmark and soak load comes from one address. */
export const LIFTED_LIMITS = {
  RATE_LIMIT_REQUEST_IP: '100000000/1h',
  RATE_LIMIT_REQUEST_ACCOUNT: '100000000/1h',
  RATE_LIMIT_REQUEST_ACCOUNT_TOTAL: '100000000/1h',
  RATE_LIMIT_CONFIRM_IP: '100000000/1h',
  RATE_LIMIT_CONFIRM_FAILURES_IP: '100000000/1h',
};

/** Starts bench/serve.ts in a child process with the given settings and waits for its ready line. */
export interface ServiceProcess {
  url: string;
  control: string;
  pid: number;
  /** `settle: false` while a mapping is paused: the queues cannot drain. */
  stats(options?: { settle?: boolean }): Promise<Record<string, unknown>>;
  mappings(actions: { worker?: 'pause' | 'resume'; sender?: 'pause' | 'resume' }): Promise<void>;
  reset(): Promise<void>;
  seed(count: number, prefix?: string): Promise<string[]>;
  outbox(): Promise<Array<{ to: string; template: string; link?: string }>>;
  stop(): Promise<void>;
}

export async function startServiceProcess(env: Record<string, string>): Promise<ServiceProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/serve.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const ready = await new Promise<{ url: string; control: string; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('service did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`service exited with code ${code}`)));
    lines.on('line', (line) => {
      if (!line.startsWith('{"ready"')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
  });
  const get = async <T>(path: string): Promise<T> =>
    (await fetch(`${ready.control}${path}`)).json() as Promise<T>;
  return {
    ...ready,
    stats: (options = {}) => get(`/stats${options.settle === false ? '?settle=0' : ''}`),
    mappings: async (actions) => {
      await get(`/mappings?${new URLSearchParams(actions as Record<string, string>)}`);
    },
    reset: async () => {
      await get('/reset');
    },
    seed: async (count, prefix = 'bench-user') =>
      (await get<{ emails: string[] }>(`/seed?count=${count}&prefix=${prefix}`)).emails,
    outbox: () => get('/outbox'),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
