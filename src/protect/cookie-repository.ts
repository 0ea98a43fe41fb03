// Where the DNS cookie secrets live: one string key (`cdn:meta:cookie-secrets`, JSON text:
// hex secrets and the time of the last rotation) shared by every instance on the store, and
// the lease (`cdn:lock:cookie-rotation`) whose holder performs a scheduled rotation.
import type { Store } from '../store/store.js';

export const cookieKeys = {
  secrets: 'cdn:meta:cookie-secrets',
  rotationLock: 'cdn:lock:cookie-rotation',
} as const;

export class CookieSecretRepository {
  constructor(private readonly store: Store) {}

  /** The stored JSON text; another process's write (CLI, sibling) is taken in first. */
  async get(): Promise<string | undefined> {
    await this.store.catchUp();
    return this.store.get(cookieKeys.secrets);
  }

  /** Stored whole; no change event: instances follow by polling. */
  async put(text: string): Promise<void> {
    await this.store.write([{ op: 'set', key: cookieKeys.secrets, value: text }]);
  }

  acquireRotationLock(owner: string, ttlMs: number): Promise<boolean> {
    return this.store.acquireLock(cookieKeys.rotationLock, owner, ttlMs);
  }

  releaseRotationLock(owner: string): Promise<void> {
    return this.store.releaseLock(cookieKeys.rotationLock, owner);
  }
}
