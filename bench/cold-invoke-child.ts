import { readFileSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { lambdaContext } from '../local/api-gateway';

/**
 * One cold invocation, as bench/cold-invoke.ts runs it in a fresh Node process inside a CPU limit:
 * read the invocation from stdin, import the deployed bundle, invoke its handler once, write the
 * timings and the result to fd 3 (stdout is the function's own log), and exit at once, as a
 * container frozen after its answer and never invoked again.
 */
export interface Invocation {
  bundle: string;
  functionName: string;
  /** The function's timeout, as the Lambda context reports it. */
  timeoutMs: number;
  event: unknown;
}

export interface InvocationReport {
  /** From process start to just before the import (Node's own start-up). */
  bootMs: number;
  importMs: number;
  /** From invoking the handler to its resolved result. */
  answerMs: number;
  /** CPU time (all threads) spent while answering. */
  answerCpuMs: number;
  result?: unknown;
  error?: string;
}

const input = JSON.parse(readFileSync(0, 'utf8')) as Invocation;
const bootMs = performance.now();
const { handler } = (await import(pathToFileURL(input.bundle).href)) as {
  handler: (event: unknown, context: unknown) => Promise<unknown>;
};
const importMs = performance.now() - bootMs;
const cpuBefore = process.cpuUsage();
const invokedAt = performance.now();
const report: Partial<InvocationReport> = {};
try {
  report.result = await handler(input.event, lambdaContext(input.functionName, input.timeoutMs));
} catch (error) {
  report.error = error instanceof Error ? error.name : 'unknown';
}
const answerMs = performance.now() - invokedAt;
const cpu = process.cpuUsage(cpuBefore);
writeSync(
  3,
  JSON.stringify({ ...report, bootMs, importMs, answerMs, answerCpuMs: (cpu.user + cpu.system) / 1000 }),
);
process.exit(0);
