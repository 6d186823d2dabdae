import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { DATABASE_URL } from './prisma.service.js';

/** Reconnect delays (ms), the last one repeating. */
const RECONNECT_DELAYS = [250, 500, 1000, 2000, 5000];

export interface Subscription {
  /** A notification on the channel (payload as sent). */
  onNotify: (payload: string) => void;
  /** After the connection was re-established: notifications may have been missed, re-read state. */
  onReconnect?: () => void;
}

/**
 * One dedicated connection per process that LISTENs on the channels services subscribe to
 * (model activations, catalog changes). Reconnects with backoff after errors or a Postgres
 * restart, re-LISTENs, and tells subscribers to re-read what they may have missed.
 */
@Injectable()
export class PgListener implements OnApplicationShutdown {
  private readonly logger = new Logger('PgListener');
  private readonly subscriptions = new Map<string, Subscription[]>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(@Inject(DATABASE_URL) private readonly url: string) {}

  /** Subscribes to a channel; resolves once the LISTEN is in place (or a reconnect is scheduled). */
  async subscribe(channel: string, subscription: Subscription): Promise<void> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
    const list = this.subscriptions.get(channel) ?? [];
    list.push(subscription);
    this.subscriptions.set(channel, list);
    if (this.client) await this.client.query(`LISTEN ${channel}`);
    else await (this.connecting ??= this.connect().finally(() => (this.connecting = null)));
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (msg) => {
      for (const s of this.subscriptions.get(msg.channel) ?? []) {
        try {
          s.onNotify(msg.payload ?? '');
        } catch (error) {
          this.logger.error(`subscriber of ${msg.channel} failed: ${String(error)}`);
        }
      }
    });
    client.on('error', (error) => {
      this.logger.warn(`notification connection lost (${error.message}); reconnecting`);
      this.scheduleReconnect(client);
    });
    client.on('end', () => this.scheduleReconnect(client));
    try {
      await client.connect();
      for (const channel of this.subscriptions.keys()) await client.query(`LISTEN ${channel}`);
      this.client = client;
      const reconnected = this.attempt > 0;
      this.attempt = 0;
      if (reconnected) for (const list of this.subscriptions.values()) for (const s of list) s.onReconnect?.();
    } catch (error) {
      this.logger.warn(`notification connection failed (${(error as Error).message}); retrying`);
      this.scheduleReconnect(client);
    }
  }

  private scheduleReconnect(client: pg.Client): void {
    if (this.closed || this.timer || (this.client !== null && this.client !== client)) return;
    this.client = null;
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    const delay = RECONNECT_DELAYS[Math.min(this.attempt++, RECONNECT_DELAYS.length - 1)];
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
