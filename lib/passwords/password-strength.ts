import { COMMON_WORDS_BY_RANK } from './common-words';

/**
 * A compact guess estimator in the manner of zxcvbn: the password is covered, at the lowest
 * cost, by patterns an attacker tries first (common words, repeats, sequences, keyboard walks,
 * years) and single characters; the cost of the cheapest cover, in bits, estimates the guesses
 * needed. Hand-written because zxcvbn-ts with its dictionaries costs more than the whole confirm
 * bundle budget (README, Performance); this keeps its model and drops its 400 KiB of data.
 */
export type PatternRule = 'repetitive' | 'sequential' | 'keyboard_pattern' | 'common_words';

export interface StrengthEstimate {
  bits: number;
  /** The patterns in the cheapest cover, in order of first appearance. */
  patterns: PatternRule[];
}

/** 2^40 guesses: months per hash for a GPU rig against bcrypt cost 12 (README, Password strength). */
export const MIN_STRENGTH_BITS = 40;

interface Match {
  start: number;
  end: number;
  bits: number;
  rule?: PatternRule;
}

// Format characters (zero-width and the like) add nothing an attacker has to guess.
const FORMAT = /^\p{Cf}$/u;
const SEPARATOR = /^[\p{Zs}\p{Zl}\p{Zp}_\-.]$/u;
const LEET: Record<string, string> = {
  '@': 'a',
  '4': 'a',
  '8': 'b',
  '(': 'c',
  '3': 'e',
  '6': 'g',
  '9': 'g',
  '1': 'i',
  '!': 'i',
  '|': 'l',
  '0': 'o',
  $: 's',
  '5': 's',
  '7': 't',
  '+': 't',
  '2': 'z',
};
const SHIFTED = '~!@#$%^&*()_+{}|:"<>?';
const UNSHIFTED = "`1234567890-=[]\\;',./";
/** Lines a finger follows on a US keyboard and a keypad, forwards and backwards. */
const KEYBOARD_LINES = [
  '`1234567890-=',
  'qwertyuiop[]\\',
  "asdfghjkl;'",
  'zxcvbnm,./',
  'qwertyuiopasdfghjklzxcvbnm',
  '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/',
  'zaq1xsw2cde3vfr4bgt5nhy6mju7,ki8.lo9/;p0',
  '1q2w3e4r5t6y7u8i9o0p',
  'qawsedrftgyhujikolp;',
  'azsxdcfvgbhnjmk,l.;/',
  'q1w2e3r4t5y6u7i8o9p0',
  '7894561230',
  '1472583690',
  '159357',
  '147852369',
];
const KEYBOARD_WALKS = KEYBOARD_LINES.flatMap((line) => [line, [...line].reverse().join('')]);
const KEYBOARD_BITS = Math.log2(KEYBOARD_WALKS.length * 12);

/** "P@ssw0rd" -> "password": the spellings to compare with a word, 1 read as i and as l. */
export function unleet(text: string): string[] {
  const lower = [...text.toLowerCase()];
  return [
    lower.map((char) => LEET[char] ?? char).join(''),
    lower.map((char) => (char === '1' || char === '|' ? 'l' : (LEET[char] ?? char))).join(''),
  ];
}

let wordRanks: Map<string, number> | undefined;
/** Built on first use, not at import, so it costs nothing on a cold start that rejects a token. */
function commonWords(): Map<string, number> {
  wordRanks ??= new Map(COMMON_WORDS_BY_RANK.split(' ').map((word, index) => [word, index + 1]));
  return wordRanks;
}

export function estimateStrength(password: string, extraWords: readonly string[] = []): StrengthEstimate {
  const chars = [...password.normalize('NFKC')].filter((char) => !FORMAT.test(char));
  return estimate(chars, extraWords, 0, new Map());
}

/** Block costs already estimated in this call: repeats of one block recur at many offsets. */
type BlockMemo = Map<string, number>;

function estimate(
  chars: string[],
  extraWords: readonly string[],
  depth: number,
  memo: BlockMemo,
): StrengthEstimate {
  const lower = chars.map((char) => char.toLowerCase());
  const matches = [
    ...wordMatches(lower, chars, extraWords),
    ...sequenceMatches(lower),
    ...keyboardMatches(lower),
    ...yearMatches(lower),
    ...(depth < 2 ? repeatMatches(chars, extraWords, depth, memo) : []),
  ];
  const byEnd = new Map<number, Match[]>();
  for (const match of matches) byEnd.set(match.end, [...(byEnd.get(match.end) ?? []), match]);

  // best[i]: the cheapest cover of the first i characters; each pattern adds a bit for its kind.
  const best: { bits: number; last?: Match; from: number }[] = [{ bits: 0, from: 0 }];
  for (let end = 1; end <= chars.length; end++) {
    const previous = best[end - 1] as { bits: number };
    let choice = { bits: previous.bits + characterBits(chars[end - 1] as string), from: end - 1 } as {
      bits: number;
      last?: Match;
      from: number;
    };
    for (const match of byEnd.get(end) ?? []) {
      const bits = (best[match.start] as { bits: number }).bits + match.bits + 1;
      if (bits < choice.bits) choice = { bits, last: match, from: match.start };
    }
    best.push(choice);
  }
  const patterns: PatternRule[] = [];
  for (let at = chars.length; at > 0; ) {
    const step = best[at] as { last?: Match; from: number };
    if (step.last?.rule) patterns.unshift(step.last.rule);
    at = step.from;
  }
  return { bits: (best[chars.length] as { bits: number }).bits, patterns: [...new Set(patterns)] };
}

/**
 * What a character costs when it belongs to no pattern: zxcvbn's bruteforce cardinality of 10
 * for ASCII (people pad with few symbols and digits), less for separators, more beyond ASCII.
 */
function characterBits(char: string): number {
  if (SEPARATOR.test(char)) return 2;
  if (/^[\x21-\x7E]$/.test(char)) return Math.log2(10);
  return Math.log2(100);
}

/** Common words, raw or in leetspeak, and the operator's context words (nearly free). */
function wordMatches(lower: string[], chars: string[], extraWords: readonly string[]): Match[] {
  const matches: Match[] = [];
  const words = commonWords();
  const unleet = lower.map((char) => LEET[char] ?? char);
  const unleetL = lower.map((char) => (char === '1' || char === '|' ? 'l' : (LEET[char] ?? char)));
  for (let start = 0; start < lower.length; start++) {
    for (let end = start + 4; end <= Math.min(lower.length, start + 24); end++) {
      const raw = lower.slice(start, end).join('');
      const candidates = [raw, unleet.slice(start, end).join(''), unleetL.slice(start, end).join('')];
      let rank = Number.POSITIVE_INFINITY;
      for (const candidate of candidates) rank = Math.min(rank, words.get(candidate) ?? rank);
      if (extraWords.some((word) => candidates.includes(word))) rank = 1;
      if (rank === Number.POSITIVE_INFINITY) continue;
      const leet = candidates[0] !== raw || !words.has(raw) ? 1 : 0;
      const cased = chars.slice(start, end).some((char) => /[A-Z]/.test(char)) ? 1 : 0;
      matches.push({ start, end, bits: Math.log2(rank + 1) + leet + cased, rule: 'common_words' });
    }
  }
  return matches;
}

/** Runs of 3+ letters or digits with a constant step of 1 or 2 up or down (9 wraps to 0). */
function sequenceMatches(lower: string[]): Match[] {
  const matches: Match[] = [];
  const step = (a: string, b: string): number | undefined => {
    const digits = /\d/.test(a) && /\d/.test(b);
    const letters = /[a-z]/.test(a) && /[a-z]/.test(b);
    if (!digits && !letters) return undefined;
    let delta = (b.codePointAt(0) as number) - (a.codePointAt(0) as number);
    if (digits && Math.abs(delta) === 9) delta = delta > 0 ? -1 : 1;
    return delta !== 0 && Math.abs(delta) <= 2 ? delta : undefined;
  };
  for (let start = 0; start < lower.length - 2; start++) {
    const delta = step(lower[start] as string, lower[start + 1] as string);
    if (delta === undefined) continue;
    let end = start + 2;
    while (end < lower.length && step(lower[end - 1] as string, lower[end] as string) === delta) end++;
    if (end - start >= 3) {
      const alphabet = /\d/.test(lower[start] as string) ? 10 : 26;
      const bits = Math.log2(alphabet) + 1 + Math.log2(end - start) + (Math.abs(delta) === 2 ? 1 : 0);
      for (let cut = start + 3; cut <= end; cut++)
        matches.push({ start, end: cut, bits, rule: 'sequential' });
    }
  }
  return matches;
}

/** Walks of 4+ keys along a keyboard line, shifted or not. */
function keyboardMatches(lower: string[]): Match[] {
  const keys = lower.map((char) => {
    const shifted = SHIFTED.indexOf(char);
    return shifted >= 0 ? (UNSHIFTED[shifted] as string) : char;
  });
  const matches: Match[] = [];
  for (let start = 0; start < keys.length - 3; start++) {
    for (let end = start + 4; end <= keys.length; end++) {
      const run = keys.slice(start, end).join('');
      if (!KEYBOARD_WALKS.some((walk) => walk.includes(run))) break;
      matches.push({ start, end, bits: KEYBOARD_BITS + Math.log2(end - start), rule: 'keyboard_pattern' });
    }
  }
  return matches;
}

/** Years from 1900 to 2039: about 7 bits, not 13. */
function yearMatches(lower: string[]): Match[] {
  const matches: Match[] = [];
  for (let start = 0; start + 4 <= lower.length; start++) {
    const year = Number(lower.slice(start, start + 4).join(''));
    if (/^\d{4}$/.test(lower.slice(start, start + 4).join('')) && year >= 1900 && year <= 2039)
      matches.push({ start, end: start + 4, bits: Math.log2(140) });
  }
  return matches;
}

/** A block repeated 2+ times costs the block once plus the count ("abcabcabc", "P@ssw0rdP@ssw0rd"). */
function repeatMatches(
  chars: string[],
  extraWords: readonly string[],
  depth: number,
  memo: BlockMemo,
): Match[] {
  const matches: Match[] = [];
  const lower = chars.map((char) => char.toLowerCase());
  for (let start = 0; start < lower.length - 1; start++) {
    for (let size = 1; start + size * 2 <= lower.length; size++) {
      const block = lower.slice(start, start + size);
      // "abab" repeated is "ab" repeated: only primitive blocks, which keeps this quadratic.
      if (!isPrimitive(block)) continue;
      const key = block.join('');
      let end = start + size;
      while (end + size <= lower.length && lower.slice(end, end + size).join('') === key) end += size;
      const count = (end - start) / size;
      if (count < 2 || end - start < 3) continue;
      let blockBits = memo.get(chars.slice(start, start + size).join(''));
      if (blockBits === undefined) {
        blockBits = estimate(chars.slice(start, start + size), extraWords, depth + 1, memo).bits;
        memo.set(chars.slice(start, start + size).join(''), blockBits);
      }
      matches.push({ start, end, bits: blockBits + Math.log2(count), rule: 'repetitive' });
    }
  }
  return matches;
}

function isPrimitive(block: string[]): boolean {
  for (let period = 1; period <= block.length / 2; period++) {
    if (block.length % period === 0 && block.every((char, i) => char === block[i % period])) return false;
  }
  return true;
}
