const SECONDS_PER_UNIT: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Parses `30d`, `12h`, `90m`, `3600s` or plain seconds (`3600`) into whole seconds.
 * Undefined when the text has another form, or is not a positive whole number of units.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^([1-9]\d{0,9})([smhd]?)$/.exec(text);
  if (match === null) return undefined;
  const [, amount = '', unit = ''] = match;
  return Number(amount) * (SECONDS_PER_UNIT[unit] ?? 1);
}

/** Writes seconds in the largest unit that divides them: 2592000 → `30d`, 5400 → `90m`. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
