// The store's own channel: every write that announces a change publishes on it, so other
// instances (and Cirrus CDN's own writers, who publish `1`) reach each other's readers.
export const channels = {
  /** Any write that changes DNS content; the payload names the kind when Cirrus wrote it. */
  dirty: 'cdn:cname:dirty',
} as const;
