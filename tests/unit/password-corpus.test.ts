import { describe, expect, it } from 'vitest';
import { loadCorpus, rateCorpora } from '../../bench/password-strength';

describe('the checked-in password corpora', () => {
  it('hold at least 300 weak passwords that pass the length rule and 300 strong ones', () => {
    const weak = loadCorpus('weak');
    const strong = loadCorpus('strong');

    expect(weak.length).toBeGreaterThanOrEqual(300);
    expect(strong.length).toBeGreaterThanOrEqual(300);
    for (const password of weak) expect([...password].length).toBeGreaterThanOrEqual(15);
  });

  it('rejects at least 99% of the weak corpus and accepts at least 99% of the strong one', () => {
    const result = rateCorpora();

    expect(result.weakRejectedRate).toBeGreaterThanOrEqual(0.99);
    expect(result.strongAcceptedRate).toBeGreaterThanOrEqual(0.99);
  });
});
