// Where the GSLB policy document is kept: `cdn:gslb:policy`, JSON, validated against the
// TypeBox schema on every read (defaults filled for fields added since it was written),
// since Redis and the state file may hold a document written by someone else.
import type { Store } from '../store/store.js';
import { GslbPolicy } from './policy-model.js';
import { validate } from '../config/validate.js';
import { CirrusError, errorMessage } from '../lib/errors.js';

export const policyKeys = {
  policy: 'cdn:gslb:policy',
} as const;

/**
 * The policy as stored, validated on a copy. An unreadable document throws: a snapshot
 * build then fails and the old one keeps serving, rather than silently falling back to the
 * built-in default policy.
 */
export function readPolicy(stored: unknown): GslbPolicy {
  try {
    if (stored === undefined) throw new Error('not JSON');
    return validate(GslbPolicy, structuredClone(stored), policyKeys.policy);
  } catch (err) {
    throw new CirrusError(
      'STORE',
      `stored policy ${policyKeys.policy} is unreadable: ${errorMessage(err)}`,
      { cause: err },
    );
  }
}

export class PolicyRepository {
  constructor(private readonly store: Store) {}

  /** Null when none was ever stored (the built-in default applies). */
  async get(): Promise<GslbPolicy | null> {
    const [value] = await this.store.getJson([policyKeys.policy], { shared: true });
    if (value === undefined && !(await this.store.exists(policyKeys.policy))) return null;
    return readPolicy(value);
  }

  async exists(): Promise<boolean> {
    return this.store.exists(policyKeys.policy);
  }

  async put(policy: GslbPolicy): Promise<void> {
    await this.store.write([{ op: 'setJson', key: policyKeys.policy, value: policy }], {
      change: 'policy',
    });
  }
}
