/**
 * Keeps the service's JSON log and EMF lines off the test report (set SHOW_LOGS=1 to see them).
 * Tests that inspect logs replace process.stdout.write with captureOutput(), which sees every line.
 */
if (!process.env.SHOW_LOGS) {
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : '';
      if (
        text.startsWith('{"level":') ||
        text.startsWith('{"_aws":') ||
        text.startsWith('No application metrics')
      ) {
        const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
        callback?.();
        return true;
      }
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
  }
}
