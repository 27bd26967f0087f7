import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** The machine and runtime every figure is stated next to. */
export function machine() {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

export function writeResult(name: string, value: unknown): string {
  mkdirSync('.bench', { recursive: true });
  const path = `.bench/${name}.json`;
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  return path;
}

export const ms = (value: number) => `${value.toFixed(2)} ms`;

/** A plain aligned text table. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

/** Replaces the README block between `<!-- NAME:start -->` and `<!-- NAME:end -->` with figures from a run. */
export function replaceReadmeBlock(name: string, markdown: string): void {
  const readme = readFileSync('README.md', 'utf8');
  const pattern = new RegExp(`<!-- ${name}:start -->[\\s\\S]*<!-- ${name}:end -->`);
  if (!pattern.test(readme)) throw new Error(`README.md has no ${name} block`);
  writeFileSync(
    'README.md',
    readme.replace(pattern, `<!-- ${name}:start -->\n${markdown}\n<!-- ${name}:end -->`),
  );
}
