/**
 * Wraps a function of a string so that repeated arguments are answered from a map.
 * The map holds at most `maxEntries` results and is emptied when full; arguments longer
 * than `maxKeyLength` are never stored, so hostile input cannot grow it beyond its bound.
 */
export function memoize<T>(
  fn: (key: string) => T,
  maxEntries: number,
  maxKeyLength = 256,
): (key: string) => T {
  const results = new Map<string, T>();

  return function memoized(key: string): T {
    const known = results.get(key);
    if (known !== undefined) return known;
    const result = fn(key);
    if (key.length <= maxKeyLength) {
      if (results.size >= maxEntries) results.clear();
      results.set(key, result);
    }
    return result;
  };
}
