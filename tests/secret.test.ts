import { describe, expect, it } from 'vitest';
import { secretMatches } from '../src/secret.js';

const SECRET = 'correct-horse-battery-staple-42';

describe('secretMatches', () => {
  it('accepts the configured secret', () => {
    expect(secretMatches(SECRET, SECRET)).toBe(true);
  });

  it('accepts an equal secret held in another string', () => {
    expect(secretMatches(['correct-horse', 'battery-staple-42'].join('-'), SECRET)).toBe(true);
  });

  it.each([
    ['nothing presented', undefined],
    ['an empty string', ''],
    ['a prefix', SECRET.slice(0, -1)],
    ['one extra character', `${SECRET}x`],
    ['one changed character', `${SECRET.slice(0, -1)}3`],
    ['other case', SECRET.toUpperCase()],
    ['surrounding spaces', ` ${SECRET} `],
    ['the Bearer header itself', `Bearer ${SECRET}`],
    ['a much longer string', SECRET.repeat(40)],
  ])('refuses %s', (_name, presented) => {
    expect(secretMatches(presented, SECRET)).toBe(false);
  });

  it('compares characters beyond ASCII exactly', () => {
    expect(secretMatches('pässwort-pässwort', 'pässwort-pässwort')).toBe(true);
    expect(secretMatches('passwort-pässwort', 'pässwort-pässwort')).toBe(false);
  });
});
