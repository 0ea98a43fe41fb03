// The check before any order: the customer's `_acme-challenge.<domain>` must be a CNAME to
// the domain's acme-dns name, or the CA would look somewhere we do not serve.
import { Resolver } from 'node:dns/promises';

export interface CnameCheck {
  ok: boolean;
  name: string;
  target: string;
  /** What was found instead, in words, when not ok. */
  problem?: string;
}

export function challengeName(domain: string): string {
  return `_acme-challenge.${domain}`;
}

export async function checkCname(
  domain: string,
  target: string,
  servers: readonly string[],
): Promise<CnameCheck> {
  const name = challengeName(domain);
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  if (servers.length > 0) resolver.setServers([...servers]);
  const fix = `create "${name}. CNAME ${target}."`;
  try {
    const found = (await resolver.resolveCname(name)).map((t) =>
      t.toLowerCase().replace(/\.$/, ''),
    );
    if (found.includes(target)) return { ok: true, name, target };
    return {
      ok: false,
      name,
      target,
      problem: `${name} is a CNAME to ${found.join(', ')}: ${fix}`,
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENODATA' || code === 'ENOTFOUND'
        ? `${name} has no CNAME`
        : `${name} could not be resolved (${code ?? String(err)})`;
    return { ok: false, name, target, problem: `${why}: ${fix}` };
  }
}
