import type { Redis } from 'ioredis';
import type { GrantCache } from './grant-cache.js';
import type { Logger } from './logger.js';

// Keyspace notification classes ipgate listens for: K (keyspace channel), g (DEL, EXPIRE,
// RENAME), $ (SET), x (expired), e (evicted). `A` stands for every class but K and E.
const NEEDED_FLAGS = ['K', 'g', '$', 'x', 'e'] as const;

/**
 * How often the subscription is checked with PING, in ms. A Redis that hangs, or a link
 * that silently drops messages, stops the cache within this time plus the command timeout.
 */
export const HEARTBEAT_MS = 250;

/**
 * Keeps every replica's cache honest. Each replica publishes the grants it writes or
 * revokes on `<prefix>events`; where Redis allows it, keyspace notifications also report
 * grants changed by anyone else (`redis-cli SET`/`DEL`, expiry, eviction). While the
 * subscription is down nothing is cached, and every (re)connection empties the cache.
 */
export class GrantEvents {
  readonly #subscriber: Redis;
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #cache: GrantCache;
  readonly #logger: Logger;
  readonly #useKeyspace: boolean;
  #subscribed = false;
  #healthy = false;
  #keyspace = false;

  constructor(options: {
    subscriber: Redis;
    client: Redis;
    prefix: string;
    cache: GrantCache;
    logger: Logger;
    useKeyspace: boolean;
  }) {
    this.#subscriber = options.subscriber;
    this.#client = options.client;
    this.#prefix = options.prefix;
    this.#cache = options.cache;
    this.#logger = options.logger;
    this.#useKeyspace = options.useKeyspace;
    this.#listen();
  }

  /** The channel replicas announce grant changes on: `ipgate:events`. */
  get channel(): string {
    return eventsChannel(this.#prefix);
  }

  /** True while changes made by other replicas are being received. */
  get live(): boolean {
    return this.#subscribed && this.#healthy;
  }

  /** True when Redis also reports changes made outside ipgate (keyspace notifications). */
  get keyspace(): boolean {
    return this.#keyspace;
  }

  /** Tells every replica, this one included, that a grant changed. */
  async announce(grant: string): Promise<void> {
    this.#cache.invalidate(grant);
    await publishGrantChange(this.#client, this.#prefix, grant);
  }

  #listen(): void {
    const subscriber = this.#subscriber;
    subscriber.on('ready', () => void this.#subscribe());
    subscriber.on('close', () => {
      this.#subscribed = false;
      this.#cache.clear();
    });
    setInterval(() => void this.#heartbeat(), HEARTBEAT_MS).unref();
    // The grant store's own connection lost Redis too: answers cached before may be stale.
    this.#client.on('ready', () => this.#cache.clear());

    const keyPrefix = `${this.#prefix}ip:`;
    subscriber.on('message', (_channel: string, grant: string) => this.#cache.invalidate(grant));
    subscriber.on('pmessage', (_pattern: string, channel: string) => {
      const key = channel.slice(channel.indexOf(':') + 1);
      if (key.startsWith(keyPrefix)) this.#cache.invalidate(key.slice(keyPrefix.length));
    });
  }

  async #subscribe(): Promise<void> {
    try {
      this.#cache.clear();
      await this.#subscriber.subscribe(this.channel);
      if (this.#useKeyspace) {
        const db = this.#subscriber.options.db ?? 0;
        await this.#subscriber.psubscribe(`__keyspace@${db}__:${escapeGlob(this.#prefix)}ip:*`);
        this.#keyspace = await this.#enableKeyspaceEvents();
      }
      this.#cache.clear();
      this.#subscribed = true;
      this.#healthy = true;
    } catch (error) {
      this.#logger.warn({ err: error }, 'grant events unavailable: decisions are not cached');
    }
  }

  async #heartbeat(): Promise<void> {
    if (!this.#subscribed) return;
    try {
      await this.#subscriber.ping();
      // Answers cached before a silence may have missed an announcement.
      if (!this.#healthy) this.#cache.clear();
      this.#healthy = true;
    } catch {
      this.#healthy = false;
      this.#cache.clear();
    }
  }

  // CONFIG SET changes the whole Redis server; it only adds the classes ipgate needs to
  // what is already set. A Redis that refuses CONFIG (managed services, ACLs) keeps the
  // cache to short lifetimes instead.
  async #enableKeyspaceEvents(): Promise<boolean> {
    try {
      const [, current = ''] = (await this.#client.config(
        'GET',
        'notify-keyspace-events',
      )) as string[];
      const missing = NEEDED_FLAGS.filter(
        (flag) => !current.includes(flag) && !(flag !== 'K' && current.includes('A')),
      );
      if (missing.length > 0) {
        await this.#client.config('SET', 'notify-keyspace-events', current + missing.join(''));
      }
      this.#logger.info({ flags: current + missing.join('') }, 'keyspace notifications on');
      return true;
    } catch (error) {
      this.#logger.info({ err: error }, 'keyspace notifications unavailable');
      return false;
    }
  }
}

/** The channel grant changes are announced on: `<prefix>events`. */
export function eventsChannel(prefix: string): string {
  return `${prefix}events`;
}

/**
 * Tells every running replica that a grant changed, so each drops its cached answer. The
 * CLI calls this too: it has no cache of its own, but the replicas do.
 */
export async function publishGrantChange(client: Redis, prefix: string, grant: string) {
  await client.publish(eventsChannel(prefix), grant);
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
