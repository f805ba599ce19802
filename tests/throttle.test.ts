import { describe, expect, it } from 'vitest';
import { createThrottle } from '../src/throttle.js';

/** A throttle on a clock the test moves by hand. */
function throttleAt(intervalMs: number) {
  const clock = { now: 1_000_000 };
  const shouldLog = createThrottle(intervalMs, () => clock.now);
  return { clock, shouldLog };
}

describe('createThrottle', () => {
  it('answers true for the first sight of a key', () => {
    const { shouldLog } = throttleAt(60_000);

    expect(shouldLog('unauthorized')).toBe(true);
  });

  it('answers false for the same key within the interval', () => {
    const { clock, shouldLog } = throttleAt(60_000);

    expect(shouldLog('unauthorized')).toBe(true);
    expect(shouldLog('unauthorized')).toBe(false);
    clock.now += 59_999;
    expect(shouldLog('unauthorized')).toBe(false);
  });

  it('answers true again once the interval has passed, and restarts it', () => {
    const { clock, shouldLog } = throttleAt(60_000);

    expect(shouldLog('unauthorized')).toBe(true);
    clock.now += 60_000;
    expect(shouldLog('unauthorized')).toBe(true);
    clock.now += 59_999;
    expect(shouldLog('unauthorized')).toBe(false);
    clock.now += 1;
    expect(shouldLog('unauthorized')).toBe(true);
  });

  it('measures the interval from the last true answer, not the last call', () => {
    const { clock, shouldLog } = throttleAt(60_000);

    expect(shouldLog('k')).toBe(true);
    for (let i = 0; i < 5; i++) {
      clock.now += 10_000;
      expect(shouldLog('k')).toBe(false);
    }
    clock.now += 10_000;
    expect(shouldLog('k')).toBe(true);
  });

  it('throttles each key on its own', () => {
    const { clock, shouldLog } = throttleAt(60_000);

    expect(shouldLog('unauthorized')).toBe(true);
    expect(shouldLog('invalid_json')).toBe(true);
    expect(shouldLog('unauthorized')).toBe(false);
    clock.now += 30_000;
    expect(shouldLog('ignored')).toBe(true);
    expect(shouldLog('invalid_json')).toBe(false);
  });

  it('keeps separate throttles apart', () => {
    const first = throttleAt(60_000);
    const second = throttleAt(60_000);

    expect(first.shouldLog('k')).toBe(true);
    expect(second.shouldLog('k')).toBe(true);
  });

  it('bounds its memory: after 256 keys it forgets and logs old keys again', () => {
    const { shouldLog } = throttleAt(60_000);
    for (let i = 0; i < 256; i++) expect(shouldLog(`key-${i}`)).toBe(true);

    expect(shouldLog('key-0')).toBe(false);
    expect(shouldLog('key-256')).toBe(true);
    expect(shouldLog('key-0')).toBe(true);
  });

  it('reads Date.now by default', () => {
    const shouldLog = createThrottle(60_000);

    expect(shouldLog('k')).toBe(true);
    expect(shouldLog('k')).toBe(false);
  });

  it('never throttles with an interval of 0', () => {
    const { shouldLog } = throttleAt(0);

    expect(shouldLog('k')).toBe(true);
    expect(shouldLog('k')).toBe(true);
  });
});
