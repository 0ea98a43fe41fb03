// Tests reach a store's data through the features' repositories; `repos(store)` gives the
// same bundle for the same store, and `keys` every feature's Redis keys under one name.
import type { Store } from '../../src/store/store.js';
import { repositories, type Repositories } from '../../src/repositories.js';
import { domainKeys } from '../../src/domains/repository.js';
import { tokenKeys } from '../../src/auth/token-repository.js';
import { zoneKeys } from '../../src/zone/repository.js';
import { serialKeys } from '../../src/snapshot/serial-record.js';
import { policyKeys } from '../../src/gslb/policy-repository.js';
import { healthKeys } from '../../src/health/repository.js';
import { acmeKeys } from '../../src/acme/repository.js';
import { xfrKeys } from '../../src/xfr/repository.js';
import { cookieKeys } from '../../src/protect/cookie-repository.js';
import { instanceKeys } from '../../src/snapshot/instance-record.js';
import { releaseKeys } from '../../src/snapshot/release-record.js';

const bundles = new WeakMap<Store, Repositories>();

export function repos(store: Store): Repositories {
  let r = bundles.get(store);
  if (!r) bundles.set(store, (r = repositories(store)));
  return r;
}

export const keys = {
  ...domainKeys,
  ...tokenKeys,
  ...zoneKeys,
  ...serialKeys,
  ...policyKeys,
  ...healthKeys,
  ...acmeKeys,
  ...xfrKeys,
  cookieSecrets: cookieKeys.secrets,
  cookieRotationLock: cookieKeys.rotationLock,
  ...instanceKeys,
  ...releaseKeys,
  meta: (name: string) => `cdn:meta:${name}`,
} as const;
