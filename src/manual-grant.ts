import { parseCidr } from './cidr.js';
import { MAX_GRANT_TTL_SECONDS } from './config.js';
import { parseDuration } from './duration.js';
import { type GrantWidths, grantFor } from './grant.js';

/** Longest note kept with a grant added by hand, in characters. */
export const MAX_NOTE_LENGTH = 200;

/** Longest user name accepted for a grant added by hand, in characters. */
export const MAX_USER_LENGTH = 150;

/** The outcome of checking input: the value, or a message for a 400 or the terminal. */
export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string };

/**
 * The grant a person means by `target`: an IP address stands for the grant that covers
 * it (its /64 with IPV6_PREFIX=64), and a CIDR must be exactly as wide as the configured
 * prefix of its family. /verify looks up a single key per request, the client's network
 * at that width, so a grant of any other width would never be found.
 */
export function checkGrantTarget(target: string, widths: GrantWidths): Checked<string> {
  const text = target.trim();
  const cidr = parseCidr(text);
  if (cidr === undefined) {
    return fail(
      `"${clip(text)}" is not an IP address or CIDR, such as 203.0.113.7 or 2001:db8:1:2::/64`,
    );
  }
  if (!text.includes('/')) return { ok: true, value: grantFor(cidr.network, widths) };

  const expected = cidr.network.family === 4 ? widths.ipv4Prefix : widths.ipv6Prefix;
  if (cidr.length !== expected) {
    const name = cidr.network.family === 4 ? 'IPV4_PREFIX' : 'IPV6_PREFIX';
    return fail(
      `${clip(text)} is a /${cidr.length}, but grants are /${expected} wide (${name}=${expected}): /verify would never find it; give an address or a /${expected}`,
    );
  }
  return { ok: true, value: grantFor(cidr.network, widths) };
}

/** A TTL such as `12h` or `3600`, from 1 second to 3650 days, in seconds. */
export function checkTtl(text: string): Checked<number> {
  const seconds = parseDuration(text.trim());
  if (seconds !== undefined && seconds <= MAX_GRANT_TTL_SECONDS)
    return { ok: true, value: seconds };
  return fail(
    `ttl "${clip(text)}" is invalid: expected a duration from 1s to 3650d, such as 12h, 30d or 3600`,
  );
}

/** An optional free text (user name, note): printable, trimmed, at most `max` characters. */
export function checkText(
  field: string,
  text: string | undefined,
  max: number,
): Checked<string | undefined> {
  if (text === undefined) return { ok: true, value: undefined };
  const trimmed = text.trim();
  if (trimmed.length > max || !/^[^\p{Cc}]*$/u.test(trimmed)) {
    return fail(`${field} is invalid: expected at most ${max} characters, no control characters`);
  }
  return { ok: true, value: trimmed === '' ? undefined : trimmed };
}

function fail(message: string): { ok: false; message: string } {
  return { ok: false, message };
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
