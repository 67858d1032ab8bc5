// Timestamps as the API writes them: RFC 3339 in UTC with microseconds
// (`2026-11-26T12:00:00.123456Z`).

import { types } from 'pg';

function pad(n: number | bigint, width: number): string {
  return n.toString().padStart(width, '0');
}

/// Microseconds since the Unix epoch, as RFC 3339.
export function fromMicros(micros: bigint): string {
  const seconds = micros / 1_000_000n - (micros % 1_000_000n < 0n ? 1n : 0n);
  const fraction = micros - seconds * 1_000_000n;
  const date = new Date(Number(seconds) * 1000);
  const day = date.toISOString().slice(0, 19);
  return `${day}.${pad(fraction, 6)}Z`;
}

/// PostgreSQL's text form of a `timestamptz` (`2026-11-26 12:00:00.123456+00`,
/// in the session's time zone), as RFC 3339 in UTC.
export function fromPostgres(text: string): string {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?([+-]\d{2})(?::?(\d{2}))?(?::?(\d{2}))?$/.exec(text);
  if (!match) {
    throw new Error(`not a timestamptz: ${text}`);
  }
  const [, day, time, fraction = '', hours, minutes = '00', seconds = '00'] = match;
  const sign = hours.startsWith('-') ? -1 : 1;
  const offset = sign * (Math.abs(Number(hours)) * 3600 + Number(minutes) * 60 + Number(seconds));
  const wholeSeconds = BigInt(Date.parse(`${day}T${time}Z`) / 1000 - offset);
  const micros = BigInt(fraction.padEnd(6, '0'));
  return fromMicros(wholeSeconds * 1_000_000n + micros);
}

// The pg driver turns `timestamptz` into a millisecond Date; the API keeps
// microseconds, so it is read as text and converted above.
types.setTypeParser(types.builtins.TIMESTAMPTZ, (text: string) => text);
