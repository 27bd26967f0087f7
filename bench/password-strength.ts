import { readFileSync } from 'node:fs';
import { checkPassword, type PasswordPolicyOptions } from '../lib/passwords/password-policy';

/**
 * npm run bench:passwords: the share of the weak corpus the policy rejects and of the strong
 * corpus it accepts, at the default settings (15 to 64 characters, no composition rules).
 */
export const DEFAULT_POLICY: PasswordPolicyOptions = {
  minLength: 15,
  maxLength: 64,
  compositionRules: false,
  contextWords: [],
};
const CORPUS_EMAIL = 'corpus.user@example.com';

export function loadCorpus(name: 'weak' | 'strong'): string[] {
  return readFileSync(new URL(`./passwords/${name}.jsonl`, import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as string);
}

export function rateCorpora(policy = DEFAULT_POLICY) {
  const rejected = (password: string) => checkPassword(password, policy, { email: CORPUS_EMAIL }).length > 0;
  const weak = loadCorpus('weak');
  const strong = loadCorpus('strong');
  const weakAccepted = weak.filter((password) => !rejected(password));
  const strongRejected = strong.filter(rejected);
  return {
    weak: weak.length,
    weakRejectedRate: (weak.length - weakAccepted.length) / weak.length,
    weakAccepted,
    strong: strong.length,
    strongAcceptedRate: (strong.length - strongRejected.length) / strong.length,
    strongRejected,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = performance.now();
  const result = rateCorpora();
  const ms = performance.now() - started;
  const pct = (rate: number) => `${(rate * 100).toFixed(2)}%`;
  console.log(
    `weak corpus:   ${result.weak} passwords, ${pct(result.weakRejectedRate)} rejected (target >= 99%)`,
  );
  console.log(
    `strong corpus: ${result.strong} passwords, ${pct(result.strongAcceptedRate)} accepted (target >= 99%)`,
  );
  console.log(`checked ${result.weak + result.strong} passwords in ${ms.toFixed(0)} ms`);
  for (const password of result.weakAccepted) console.log(`  weak but accepted: ${JSON.stringify(password)}`);
  for (const password of result.strongRejected)
    console.log(`  strong but rejected: ${JSON.stringify(password)}`);
}
