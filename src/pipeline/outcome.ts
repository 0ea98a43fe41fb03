// What a pipeline stage decides about a query. Stages return one of these; only the
// runner turns outcomes into wire responses, so every negative answer is built one way.
import type { Response } from '../wire/encode.js';
import type { ResourceRecord } from '../wire/record.js';
import type { ZoneData } from '../zone/zone-data.js';

export type Outcome =
  | { readonly kind: 'continue' }
  | { readonly kind: 'answer'; readonly response: Response }
  /** RFC 2308: negative answers carry the zone's SOA; `chain` holds any CNAMEs followed. */
  | {
      readonly kind: 'nxdomain' | 'nodata';
      readonly zone: ZoneData;
      readonly chain: readonly ResourceRecord[];
    }
  | { readonly kind: 'refused' | 'formerr' | 'notimp' | 'badvers' | 'servfail' };

export const CONTINUE: Outcome = { kind: 'continue' };
export const REFUSED: Outcome = { kind: 'refused' };
