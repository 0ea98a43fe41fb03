// Reading the stored GSLB policy document back: both stores validate it against the
// TypeBox schema on every read (filling defaults for fields added since it was written),
// since Redis and the state file may hold a document written by someone else.
import type { GslbPolicy as GslbPolicyType } from '../gslb/policy-model.js';
import { GslbPolicy } from '../gslb/policy-model.js';
import { validate } from '../config/validate.js';
import { CirrusError, errorMessage } from '../lib/errors.js';
import { keys } from './keys.js';

/**
 * The policy as stored (a JSON string or an already parsed value), validated on a copy.
 * An unreadable document throws: a snapshot build then fails and the old one keeps serving,
 * rather than silently falling back to the built-in default policy.
 */
export function readPolicy(stored: unknown): GslbPolicyType {
  let value: unknown;
  try {
    value = typeof stored === 'string' ? JSON.parse(stored) : structuredClone(stored);
    return validate(GslbPolicy, value, keys.policy);
  } catch (err) {
    throw new CirrusError(
      'STORE',
      `stored policy ${keys.policy} is unreadable: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
}
