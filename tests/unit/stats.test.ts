import { describe, expect, it } from 'vitest';
import { kolmogorovSmirnov, mannWhitneyU, median, percentile } from '../../bench/stats';

/** The benchmark statistics, checked against values computed by hand and by SciPy's documented examples. */
describe('benchmark statistics', () => {
  it('interpolates percentiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([1, 2, 3, 4])).toBe(2.5);
    expect(percentile([0, 10], 90)).toBe(9);
  });

  it('finds no difference between identical samples', () => {
    const sample = Array.from({ length: 200 }, (_, i) => i % 17);

    expect(mannWhitneyU(sample, sample).p).toBeGreaterThan(0.9);
    expect(kolmogorovSmirnov(sample, sample)).toEqual({ d: 0, p: 1 });
  });

  it('finds a clear shift', () => {
    const a = Array.from({ length: 300 }, (_, i) => 100 + (i % 10));
    const b = a.map((v) => v + 3);

    expect(mannWhitneyU(a, b).p).toBeLessThan(1e-6);
    expect(kolmogorovSmirnov(a, b).p).toBeLessThan(1e-6);
  });

  it('computes U and a two-sided p for a small textbook case', () => {
    // U for a = [1,2,3], b = [4,5,6] is 0; with n1 = n2 = 3 the normal approximation gives p close to 0.081.
    const result = mannWhitneyU([1, 2, 3], [4, 5, 6]);

    expect(result.u).toBe(0);
    expect(result.p).toBeCloseTo(0.081, 2);
  });
});
