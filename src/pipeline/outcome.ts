// What a pipeline stage decides about a query. Stages return one of these; only the
// runner turns outcomes into wire responses, so every negative answer is built one way.
import type { ExtendedError, Response } from '../wire/encode.js';
import { Ede } from '../wire/encode.js';
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
      /** RFC 8914: why the answer is empty when that is not the name's content. */
      readonly ede?: ExtendedError;
      /**
       * A shorter negative TTL than the zone's: an empty GSLB answer holds no longer than
       * the decision behind it (its health bound).
       */
      readonly negativeTtl?: number;
    }
  | { readonly kind: 'refused'; readonly ede?: ExtendedError }
  | { readonly kind: 'formerr' | 'notimp' | 'notauth' | 'badvers' | 'servfail' };

export const CONTINUE: Outcome = { kind: 'continue' };
export const REFUSED: Outcome = { kind: 'refused' };
/** Outside every zone we serve (RFC 8914 code 20). */
export const NOT_AUTHORITATIVE: Outcome = {
  kind: 'refused',
  ede: { code: Ede.NOT_AUTHORITATIVE },
};
/** Refused by an access list (RFC 8914 code 18). */
export const PROHIBITED: Outcome = { kind: 'refused', ede: { code: Ede.PROHIBITED } };
