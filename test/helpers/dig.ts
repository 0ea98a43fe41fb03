// Runs the real `dig` / `kdig` binaries against a server and parses what they print.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DigResult {
  status: string;
  flags: string[];
  answer: string[];
  authority: string[];
  additional: string[];
  /** EDNS line, e.g. "version: 0, flags:; udp: 1232", when an OPT came back. */
  edns: string | undefined;
  raw: string;
}

function section(raw: string, name: string): string[] {
  const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(raw);
  return m
    ? (m[1] as string)
        .split('\n')
        .filter((l) => l && !l.startsWith(';'))
        .map((l) => l.replace(/\s+/g, ' ').trim())
    : [];
}

export function parseDig(raw: string): DigResult {
  const status = /status: (\w+)/.exec(raw)?.[1] ?? 'NONE';
  // dig prints ";; flags: qr aa;", kdig ";; Flags: qr aa;".
  const flags = (/;; flags: ([^;]*);/i.exec(raw)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  return {
    status,
    flags,
    answer: section(raw, 'ANSWER'),
    authority: section(raw, 'AUTHORITY'),
    additional: section(raw, 'ADDITIONAL'),
    // dig: "; EDNS: version: 0, flags:; udp: 1232"; kdig: ";; Version: 0; flags: ; UDP size: 1232 B; …".
    edns: /; EDNS: (.*)|^;; (Version: \d+;.*)$/m
      .exec(raw)
      ?.slice(1)
      .find((g) => g !== undefined),
    raw,
  };
}

export async function dig(
  port: number,
  args: string[],
  tool: 'dig' | 'kdig' = 'dig',
): Promise<DigResult> {
  const base =
    tool === 'dig'
      ? ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1']
      : ['@127.0.0.1', '-p', String(port), '+time=2', '+retry=0'];
  const { stdout } = await run(tool, [...base, ...args], { timeout: 10000 });
  return parseDig(stdout);
}

/** The ECS line dig prints: "; CLIENT-SUBNET: 198.51.100.0/24/25" → "198.51.100.0/24/25". */
export const clientSubnet = (raw: string) => /CLIENT-SUBNET: (\S+)/.exec(raw)?.[1];

/** The data of each answer line (the address, for A/AAAA). */
export const addresses = (answer: string[]) => answer.map((l) => l.split(' ').at(-1));
