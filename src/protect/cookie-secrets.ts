// The DNS cookie secrets every instance on one store shares (`cdn:meta:cookie-secrets`):
// created by the first instance that finds none, rotated on a schedule and on demand
// (API, CLI), followed by every instance through polling, so siblings accept each other's
// cookies (RFC 9018 §5). Keys and storage calls are cookie-repository.ts's.
import type { Logger } from '../lib/logger.js';
import { rotateCookieSecrets, newCookieSecret, type CookieSecrets } from '../wire/cookie.js';
import { cookieKeys, type CookieSecretRepository } from './cookie-repository.js';

/** The secrets as stored: hex, with the time of the last rotation (ms since the epoch). */
interface StoredSecrets {
  current: string;
  previous?: string;
  rotatedAt: number;
}

export interface SharedSecrets extends CookieSecrets {
  readonly rotatedAt: number;
}

const HEX_SECRET = /^[0-9a-f]{32}$/;

async function readStored(store: CookieSecretRepository): Promise<SharedSecrets | undefined> {
  const text = await store.get();
  if (text === undefined) return undefined;
  const raw = JSON.parse(text) as Partial<StoredSecrets>;
  if (typeof raw.current !== 'string' || !HEX_SECRET.test(raw.current))
    throw new Error(`${cookieKeys.secrets} holds no valid current secret`);
  const previous =
    typeof raw.previous === 'string' && HEX_SECRET.test(raw.previous)
      ? Buffer.from(raw.previous, 'hex')
      : undefined;
  return {
    current: Buffer.from(raw.current, 'hex'),
    previous,
    rotatedAt: typeof raw.rotatedAt === 'number' ? raw.rotatedAt : 0,
  };
}

async function writeStored(store: CookieSecretRepository, secrets: SharedSecrets): Promise<void> {
  const stored: StoredSecrets = {
    current: Buffer.from(secrets.current).toString('hex'),
    rotatedAt: secrets.rotatedAt,
  };
  if (secrets.previous) stored.previous = Buffer.from(secrets.previous).toString('hex');
  await store.put(JSON.stringify(stored));
}

/** The stored secrets, creating and storing new ones when there are none. */
export async function loadOrCreateSecrets(
  store: CookieSecretRepository,
  now = Date.now(),
): Promise<SharedSecrets> {
  const stored = await readStored(store);
  if (stored) return stored;
  const created: SharedSecrets = { current: newCookieSecret(), rotatedAt: now };
  await writeStored(store, created);
  return created;
}

/** Rotates the stored secrets: a new current one, the current one kept as previous. */
export async function rotateStoredSecrets(
  store: CookieSecretRepository,
  now = Date.now(),
): Promise<SharedSecrets> {
  const stored = await readStored(store);
  const next: SharedSecrets = stored
    ? { ...rotateCookieSecrets(stored), rotatedAt: now }
    : { current: newCookieSecret(), rotatedAt: now };
  await writeStored(store, next);
  return next;
}

export interface CookieKeeperOptions {
  store: CookieSecretRepository;
  logger: Logger;
  /** Hours between scheduled rotations. */
  rotateHours: number;
  /** Seconds between reads of the shared secrets. */
  pollSeconds: number;
  /** Names this instance in the rotation lock. */
  instance: string;
}

/**
 * This instance's copy of the shared secrets. Every poll reads the store; when the last
 * rotation is older than `rotateHours`, the instance holding the rotation lock rotates,
 * so the instances of one store rotate once between them.
 */
export class CookieSecretKeeper {
  private live: SharedSecrets | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<(secrets: CookieSecrets) => void> = [];

  constructor(private readonly opts: CookieKeeperOptions) {}

  /** The secrets in use; undefined before start. */
  readonly secrets = (): CookieSecrets | undefined => this.live;

  /** Called with every change of the secrets this instance uses (DNS workers follow). */
  onChange(listener: (secrets: CookieSecrets) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    this.adopt(await loadOrCreateSecrets(this.opts.store));
    this.timer = setInterval(() => void this.poll(), this.opts.pollSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Rotates now (the API's and CLI's rotation go through the store the same way). */
  async rotate(): Promise<SharedSecrets> {
    const next = await rotateStoredSecrets(this.opts.store);
    this.adopt(next);
    return next;
  }

  /** Reads the store, rotating first when a rotation is due and this instance holds the lock. */
  async poll(now = Date.now()): Promise<void> {
    const { store, logger } = this.opts;
    try {
      let stored = await loadOrCreateSecrets(store, now);
      const due = now - stored.rotatedAt >= this.opts.rotateHours * 3_600_000;
      if (due && (await store.acquireRotationLock(this.opts.instance, 60_000))) {
        // Read again under the lock: another instance may have rotated meanwhile.
        stored = await loadOrCreateSecrets(store, now);
        if (now - stored.rotatedAt >= this.opts.rotateHours * 3_600_000) {
          stored = await rotateStoredSecrets(store, now);
          logger.info('dns cookie secrets rotated on schedule');
        }
        await store.releaseRotationLock(this.opts.instance);
      }
      this.adopt(stored);
    } catch (err) {
      logger.warn({ err }, 'dns cookie secrets could not be read; the current ones stay');
    }
  }

  private adopt(next: SharedSecrets): void {
    const live = this.live;
    if (
      live &&
      Buffer.compare(live.current, next.current) === 0 &&
      live.rotatedAt === next.rotatedAt
    )
      return;
    this.live = next;
    for (const l of this.listeners) l(next);
  }
}
