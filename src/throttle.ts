const MAX_KEYS = 256;

/**
 * Returns a check that answers true at most once per `intervalMs` for each key, so a
 * repeated warning (the same misconfigured webhook, a Redis that keeps refusing) is
 * logged once per interval rather than once per request.
 */
export function createThrottle(intervalMs: number, now: () => number = Date.now) {
  const lastSeen = new Map<string, number>();

  return function shouldLog(key: string): boolean {
    const time = now();
    const last = lastSeen.get(key);
    if (last !== undefined && time - last < intervalMs) return false;
    if (lastSeen.size >= MAX_KEYS) lastSeen.clear();
    lastSeen.set(key, time);
    return true;
  };
}
