import autocannon from 'autocannon';
import { median, percentile } from './stats';

/**
 * One load step with autocannon: a fixed number of POSTs at a fixed concurrency. Latencies are
 * taken per response (autocannon's histogram has no p95), so percentiles are exact.
 */
export interface LoadResult {
  concurrency: number;
  requests: number;
  p50: number;
  p95: number;
  p99: number;
  requestsPerSecond: number;
  errors: number;
  statuses: Record<string, number>;
}

export async function load(options: {
  url: string;
  concurrency: number;
  amount: number;
  /** The JSON body of the n-th request. */
  body: (n: number) => unknown;
}): Promise<LoadResult> {
  let n = 0;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const started = performance.now();
  let finish: (result: autocannon.Result) => void = () => undefined;
  let fail: (error: Error) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
      url: options.url,
      connections: Math.min(options.concurrency, options.amount),
      amount: options.amount,
      timeout: 30,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          setupRequest: (request) => ({ ...request, body: JSON.stringify(options.body(n++)) }),
        },
      ],
    },
    (error, result) => (error ? fail(error) : finish(result)),
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    latencies.push(responseTime);
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
  });
  const result = await done;
  const seconds = (performance.now() - started) / 1000;
  const errors = result.errors + result.timeouts + result.non2xx;
  return {
    concurrency: options.concurrency,
    requests: latencies.length,
    p50: median(latencies),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    requestsPerSecond: latencies.length / seconds,
    errors,
    statuses,
  };
}
