import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A CPU quota for benchmark child processes, so a fresh process runs on the share of a core a
 * Lambda function of some memory size gets. Lambda allocates CPU in proportion to memory, one full
 * vCPU at 1,769 MB, and enforces it as a quota over a period rather than a slower core: a process
 * runs at full speed until it has used its share of the period, then waits for the next one. A CFS
 * quota (cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us, or v2 cpu.max) does the same.
 */
export const FULL_VCPU_MB = 1_769;

/** The CFS default period. */
export const PERIOD_US = 100_000;

/** The fraction of one vCPU a function of `memoryMb` gets. */
export const lambdaCpuShare = (memoryMb: number) => memoryMb / FULL_VCPU_MB;

export interface CpuLimit {
  /** What is applied, for the output, e.g. "cgroup v1 cpu.cfs_quota_us 14472 / cpu.cfs_period_us 100000". */
  readonly mechanism: string;
  /** False when no cgroup could be made: children then run unlimited, and the figures say so. */
  readonly limited: boolean;
  /** Why not, when not limited. */
  readonly reason?: string;
  /** A command that joins the limit first, then execs `command` (same PID), so all of it runs inside. */
  wrap(command: string, args: string[]): { command: string; args: string[] };
  /** Time the cgroup's tasks spent throttled so far, in ms (undefined when unlimited). */
  throttledMs(): number | undefined;
  /** Removes the cgroup; every process in it must have exited. */
  remove(): void;
}

// Writes the shell's own PID into cgroup.procs, then becomes the command: nothing runs outside.
const JOIN_THEN_EXEC = 'echo $$ > "$0" && exec "$@"';

export function createCpuLimit(name: string, share: number, periodUs = PERIOD_US): CpuLimit {
  const quotaUs = Math.max(1_000, Math.round(share * periodUs));
  const problems: string[] = [];
  for (const attempt of [cgroupV1, cgroupV2]) {
    try {
      const made = attempt(name, quotaUs, periodUs);
      if (made) return made;
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  return noCpuLimit(
    problems.join('; ') || 'no writable cgroup v1 cpu controller, nor cgroup v2 with the cpu controller',
  );
}

/** Children run as they are: for a warm-up, or where no cgroup can be made. */
export function noCpuLimit(reason: string): CpuLimit {
  return {
    mechanism: 'none (unlimited)',
    limited: false,
    reason,
    wrap: (command, args) => ({ command, args }),
    throttledMs: () => undefined,
    remove: () => undefined,
  };
}

function joined(dir: string, procs: string, mechanism: string, throttledKey: string, toMs: number): CpuLimit {
  return {
    mechanism,
    limited: true,
    wrap: (command, args) => ({ command: '/bin/sh', args: ['-c', JOIN_THEN_EXEC, procs, command, ...args] }),
    throttledMs: () => {
      const stat = readFileSync(join(dir, 'cpu.stat'), 'utf8');
      const value = new RegExp(`^${throttledKey} (\\d+)$`, 'm').exec(stat)?.[1];
      return value === undefined ? undefined : Number(value) / toMs;
    },
    remove: () => removeDir(dir),
  };
}

function cgroupV1(name: string, quotaUs: number, periodUs: number): CpuLimit | undefined {
  const root = '/sys/fs/cgroup/cpu';
  if (!existsSync(join(root, 'cpu.cfs_quota_us'))) return undefined;
  const dir = join(root, name);
  mkdirSync(dir);
  try {
    writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs));
    writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
  } catch (error) {
    removeDir(dir);
    throw error;
  }
  return joined(
    dir,
    join(dir, 'cgroup.procs'),
    `cgroup v1 cpu.cfs_quota_us ${quotaUs} / cpu.cfs_period_us ${periodUs} (${dir})`,
    'throttled_time',
    1e6,
  );
}

function cgroupV2(name: string, quotaUs: number, periodUs: number): CpuLimit | undefined {
  // The unified hierarchy at the top, or beside v1 (hybrid), if it holds the cpu controller.
  const root = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].find((dir) => {
    const controllers = join(dir, 'cgroup.controllers');
    return existsSync(controllers) && readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu');
  });
  if (!root) return undefined;
  try {
    writeFileSync(join(root, 'cgroup.subtree_control'), '+cpu');
  } catch {
    // Often already enabled; the cpu.max write below tells.
  }
  const dir = join(root, name);
  mkdirSync(dir);
  try {
    writeFileSync(join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
  } catch (error) {
    removeDir(dir);
    throw error;
  }
  return joined(
    dir,
    join(dir, 'cgroup.procs'),
    `cgroup v2 cpu.max "${quotaUs} ${periodUs}" (${dir})`,
    'throttled_usec',
    1e3,
  );
}

/** rmdir, retried briefly: the kernel frees a cgroup a moment after its last task exits. */
function removeDir(dir: string): void {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  rmdirSync(dir);
}
