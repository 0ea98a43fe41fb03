// The fixed order of the query pipeline. Each position matters:
//  1. guard      — malformed-by-policy queries (EDNS version, opcode, class, meta types)
//                  are settled before any lookup, so later stages see only real questions.
//  2. chaos      — CHAOS debug names live outside every zone; answer them before the
//                  authority check would refuse them.
//  3. authority  — REFUSED outside our zones; fixes the zone for the stages below.
//  4. debug      — whoami / _explain TXT: inside the zone (so after authority) and before
//                  gslb, because _explain.<base name> sits under a base name.
//  5. gslb       — base names are the hot path: answered from the domain plan directly.
//  6. static     — everything else in the zone, including CNAME chains into base names;
//                  it always settles the query (answer, referral, NXDOMAIN or NODATA).
import type { Stage } from './context.js';
import { guard } from './guard.js';
import { chaos } from './chaos.js';
import { authority } from './authority.js';
import { debugNames } from './debug.js';
import { gslb } from './gslb.js';
import { staticRecords } from './static.js';

export const STAGES: readonly Stage[] = [guard, chaos, authority, debugNames, gslb, staticRecords];
