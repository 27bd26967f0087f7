/**
 * Captures everything written to stdout and stderr (Powertools Logger and EMF metrics write
 * there), keeping it off the terminal. Returns the captured text and a restore function.
 */
export function captureOutput(): { text(): string; lines(): string[]; restore(): void } {
  const chunks: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const tap = (chunk: unknown, ...rest: unknown[]): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  };
  process.stdout.write = tap as typeof process.stdout.write;
  process.stderr.write = tap as typeof process.stderr.write;
  return {
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter(Boolean),
    restore: () => {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
    },
  };
}
