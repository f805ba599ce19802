import { describe, expect, it } from 'vitest';
import { GrantCache } from '../src/grant-cache.js';

describe('GrantCache', () => {
  it('returns an answer until its time runs out, then forgets it', () => {
    const cache = new GrantCache(10);
    cache.set('198.51.100.7', { user: 'alice' }, 1000, cache.epoch);
    cache.set('198.51.100.8', null, 1000, cache.epoch);
    expect(cache.get('198.51.100.7', 999)).toEqual({ user: 'alice' });
    expect(cache.get('198.51.100.8', 999)).toBeNull();
    expect(cache.get('198.51.100.7', 1000)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('keeps at most maxEntries, dropping the oldest first', () => {
    const cache = new GrantCache(3);
    for (const grant of ['a', 'b', 'c', 'd']) cache.set(grant, null, 1000, cache.epoch);
    expect(cache.size).toBe(3);
    expect(cache.get('a', 0)).toBeUndefined();
    expect(cache.get('d', 0)).toBeNull();
  });

  it('caches nothing when maxEntries is 0', () => {
    const cache = new GrantCache(0);
    cache.set('a', { user: 'alice' }, 1000, cache.epoch);
    expect([cache.size, cache.get('a', 0)]).toEqual([0, undefined]);
  });

  it('drops an invalidated grant and refuses answers fetched before the invalidation', () => {
    const cache = new GrantCache(10);
    cache.set('a', null, 1000, cache.epoch);
    const before = cache.epoch;
    cache.invalidate('a');
    expect(cache.get('a', 0)).toBeUndefined();
    cache.set('a', null, 1000, before);
    expect(cache.get('a', 0)).toBeUndefined();
  });

  it('clears everything and refuses answers fetched before the clear', () => {
    const cache = new GrantCache(10);
    const before = cache.epoch;
    cache.set('a', { user: 'alice' }, 1000, before);
    cache.clear();
    cache.set('b', { user: 'bob' }, 1000, before);
    expect(cache.size).toBe(0);
  });
});
