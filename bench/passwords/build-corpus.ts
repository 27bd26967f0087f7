import { writeFileSync } from 'node:fs';
import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * Writes the password corpora the strength tests and `npm run bench:passwords` use, from a fixed
 * seed so the files are reproducible. Weak passwords follow the shapes issue 12 names and those of
 * breach lists (the 200 most frequent alphabetic entries of zxcvbn-ts's breach-derived list as
 * bases); every one is 15+ characters, so the length rule alone passes it. Strong ones are random
 * diceware passphrases (EFF list) and random strings. Built before the estimator was run on them.
 * Run: npx tsx bench/passwords/build-corpus.ts
 */
let seed = 0x5eed_1234;
function random(): number {
  // mulberry32: deterministic, not for secrets.
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));

const bases = [
  ...new Set(
    (dictionary['passwords-common'] ?? []).map((w) => w.toLowerCase()).filter((w) => /^[a-z]{4,}$/.test(w)),
  ),
].slice(0, 200);
const leet = (word: string) =>
  word.replace(/a/g, '@').replace(/o/g, '0').replace(/e/g, '3').replace(/s/g, '$').replace(/i/g, '1');
const capitalize = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);
const digitsUp = (from: number, n: number) => Array.from({ length: n }, (_, i) => (from + i) % 10).join('');
const digitsDown = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => (((from - i) % 10) + 10) % 10).join('');
const padTo15 = (core: string, pad: () => string) => {
  let out = core;
  while ([...out].length < 15) out += pad();
  return out;
};
const ROWS = ['1234567890', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm', '!@#$%^&*()'];
const SYMBOLS = ['!', '@', '#', '$', '*', '?', '.'];
const INVISIBLE = [
  ' ',
  '\u00a0',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\ufeff',
  '\u3000',
  '\u2003',
  '\u2028',
  '\u2029',
  '\u00ad',
];

const weak = new Set<string>();
const add = (password: string) => {
  if ([...password].length >= 15 && [...password].length <= 64) weak.add(password);
};
while (weak.size < 400) {
  const base = pick(bases);
  switch (int(0, 13)) {
    case 0: // one character repeated
      add(pick([...'a1!xz0.Q9*']).repeat(int(15, 24)));
      break;
    case 1: // a short block repeated
      {
        const block = pick(['abc', 'ab12', 'xyz', '123', 'a1', 'qwe', 'hi!', 'lol', '1a2b']);
        add(padTo15(block, () => block));
      }
      break;
    case 2: // a common password twice, maybe capitalized or in leetspeak
      add(
        pick([base, capitalize(base), leet(base), capitalize(leet(base))]).repeat(base.length >= 8 ? 2 : 3),
      );
      break;
    case 3: // digit sequences, wrapping past 9
      add(random() < 0.5 ? digitsUp(int(0, 9), int(15, 20)) : digitsDown(int(0, 9), int(15, 20)));
      break;
    case 4: {
      // alphabet sequences
      const from = int(0, 8);
      const run = 'abcdefghijklmnopqrstuvwxyz'.slice(from, from + int(15, 18));
      add(pick([run, [...run].reverse().join(''), run.toUpperCase()]));
      break;
    }
    case 5: {
      // keyboard rows joined, from a random start
      const joined = ROWS.slice(int(0, 1)).join('');
      const from = int(0, 6);
      add(joined.slice(from, from + int(15, 20)));
      break;
    }
    case 6: {
      // column and zigzag walks
      const walk = pick([
        '1qaz2wsx3edc4rfv5tgb',
        '1q2w3e4r5t6y7u8i9o0p',
        'zaq1xsw2cde3vfr4bgt5',
        'qazwsxedcrfvtgbyhn',
        '!QAZ@WSX#EDC$RFV',
      ]);
      add(walk.slice(0, int(15, walk.length)));
      break;
    }
    case 7: // common password padded with a digit run
      add(padTo15(pick([base, capitalize(base)]), () => digitsUp(1, int(3, 9))).slice(0, int(15, 20)));
      break;
    case 8: // common password + year + symbols
      add(padTo15(`${pick([base, capitalize(base), leet(base)])}${int(1960, 2026)}`, () => pick(SYMBOLS)));
      break;
    case 9: // two or three common passwords joined
      add(padTo15(pick([base, capitalize(base)]) + pick(bases), () => String(int(0, 9))));
      break;
    case 10: // leetspeak with padding
      add(padTo15(capitalize(leet(base)), () => pick(['!', '1', '123', '@', '#1'])));
      break;
    case 11: // whitespace, invisible and format characters only
      add(Array.from({ length: int(15, 20) }, () => pick(INVISIBLE)).join(''));
      break;
    case 12: // a word and a keyboard walk
      add(
        padTo15(`${capitalize(base)}${pick(['qwerty', 'asdf', '1qaz', 'zxcv', '!@#$'])}`, () =>
          digitsUp(1, 3),
        ),
      );
      break;
    case 13: // phrases from the top of breach lists
      add(
        padTo15(
          pick(['iloveyou', 'letmein', 'trustno1', 'welcome', 'changeme', 'whatever', 'sunshine']),
          () => pick(['forever', '123', '!', 'baby', '2024']),
        ),
      );
      break;
  }
}

const diceware = dictionary['diceware-common'] ?? [];
const strong = new Set<string>();
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const PRINTABLE = `${ALNUM}!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`;
while (strong.size < 400) {
  if (strong.size % 2 === 0) {
    const words = Array.from({ length: int(4, 6) }, () => pick(diceware));
    const phrase = words.join(pick([' ', '-', '.', ' ']));
    if ([...phrase].length >= 15 && [...phrase].length <= 64) strong.add(phrase);
  } else {
    const alphabet = pick([ALNUM, PRINTABLE, 'abcdefghijklmnopqrstuvwxyz']);
    strong.add(Array.from({ length: int(15, 24) }, () => pick([...alphabet])).join(''));
  }
}

const write = (file: string, set: Set<string>) =>
  writeFileSync(file, `${[...set].map((p) => JSON.stringify(p)).join('\n')}\n`);
write('bench/passwords/weak.jsonl', weak);
write('bench/passwords/strong.jsonl', strong);
console.log(`weak ${weak.size}, strong ${strong.size}`);
