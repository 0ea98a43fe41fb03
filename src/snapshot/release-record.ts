// Where the publish gate's release marker is kept: `cdn:meta:gate-release`, a string
// `<ms>-<uuid>` read by every instance sharing the store (publish-gate.ts says what it admits).
import type { Store } from '../store/store.js';
import type { ReleaseMarkers } from './source.js';

export const releaseKeys = {
  gateRelease: 'cdn:meta:gate-release',
} as const;

export class ReleaseRepository implements ReleaseMarkers {
  constructor(private readonly store: Store) {}

  async get(): Promise<string | undefined> {
    return this.store.get(releaseKeys.gateRelease);
  }

  /** A fact about the deployment, not content: nothing is announced; instances poll it. */
  async put(marker: string): Promise<void> {
    await this.store.write([{ op: 'set', key: releaseKeys.gateRelease, value: marker }]);
  }
}
