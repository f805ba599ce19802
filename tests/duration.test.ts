import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../src/duration.js';

describe('parseDuration', () => {
  it.each([
    ['30d', 2_592_000],
    ['1d', 86_400],
    ['12h', 43_200],
    ['1h', 3600],
    ['90m', 5400],
    ['1m', 60],
    ['3600s', 3600],
    ['1s', 1],
    ['3600', 3600],
    ['1', 1],
    ['9999999999', 9_999_999_999],
    ['9999999999s', 9_999_999_999],
  ])('reads %j as %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    ['empty', ''],
    ['zero', '0'],
    ['zero with a unit', '0d'],
    ['a leading zero', '030d'],
    ['a negative amount', '-1'],
    ['a plus sign', '+1h'],
    ['a fraction', '1.5h'],
    ['a space before the unit', '30 d'],
    ['surrounding spaces', ' 30d '],
    ['an upper-case unit', '30D'],
    ['weeks', '1w'],
    ['milliseconds', '100ms'],
    ['two units', '1h30m'],
    ['a unit alone', 'd'],
    ['eleven digits', '12345678901'],
    ['ISO 8601', 'PT1H'],
    ['hex', '0x10'],
    ['an exponent', '1e3'],
  ])('refuses %s (%j)', (_name, text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [2_592_000, '30d'],
    [86_400, '1d'],
    [172_800, '2d'],
    [43_200, '12h'],
    [3600, '1h'],
    [90_000, '25h'],
    [5400, '90m'],
    [60, '1m'],
    [3660, '61m'],
    [59, '59s'],
    [61, '61s'],
    [1, '1s'],
    [86_401, '86401s'],
  ])('writes %i seconds as %j', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it.each([1, 59, 60, 3600, 5400, 43_200, 86_400, 90_061, 2_592_000])(
    'formats %i seconds as text that parses back to it',
    (seconds) => {
      expect(parseDuration(formatDuration(seconds))).toBe(seconds);
    },
  );
});
