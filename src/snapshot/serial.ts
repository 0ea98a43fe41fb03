// RFC 1982 serial number arithmetic for SOA serials (SERIAL_BITS = 32).

const HALF = 0x80000000;

/** True when serial a is "greater than" b in RFC 1982 §3.2 terms. */
export function serialGt(a: number, b: number): boolean {
  return a !== b && ((a > b && a - b < HALF) || (a < b && b - a > HALF));
}

/** The serial after `prev`: at least prev+1, jumping to `floor` when floor is ahead. */
export function nextSerial(prev: number | undefined, floor: number): number {
  if (prev === undefined) return floor >>> 0;
  const inc = (prev + 1) >>> 0;
  return serialGt(floor >>> 0, inc) ? floor >>> 0 : inc;
}

/** Unix time in seconds: the serial floor, so serials never go back across restarts. */
export function unixSerial(now = Date.now()): number {
  return Math.floor(now / 1000) >>> 0;
}
