import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { PgListener } from '../database/pg-listener.js';
import { PrismaService } from '../database/prisma.service.js';
import { findActiveKey, hashApiKey, touchApiKey, type ApiKeyRow } from './api-keys.queries.js';

/** Announced by the api_keys triggers (migration add_api_keys) when a key is revoked, changed or deleted. */
export const API_KEYS_CHANNEL = 'recoder_api_keys_changed';
const VALID_TTL_MS = 60_000;
const INVALID_TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;
const TOUCH_EVERY_MS = 60_000;

export interface Principal {
  keyId: number;
  role: ApiKeyRow['role'];
  prefix: string;
}

const unauthenticated = (message: string) => new DomainError(ErrorCode.UNAUTHENTICATED, message);

/**
 * Resolves `Authorization: Bearer <key>` to the key's role. Lookups are cached per process (a
 * minute for valid keys, seconds for unknown ones); revocations clear the cache through NOTIFY, so
 * a revoked key stops working within the notification's delivery time.
 */
@Injectable()
export class AuthService implements OnModuleInit {
  private readonly logger = new Logger('Auth');
  private readonly cache = new Map<string, { principal: Principal | null; expires: number }>();
  private readonly touched = new Map<number, number>();

  constructor(
    private readonly prisma: PrismaService,
    private readonly listener: PgListener,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.env.auth === 'off') {
      this.logger.warn('RECODER_AUTH=off: the GraphQL API is open to anyone who can reach it (no API key needed for any operation)');
      return;
    }
    await this.listener.subscribe(API_KEYS_CHANNEL, { onNotify: () => this.cache.clear(), onReconnect: () => this.cache.clear() });
  }

  /** The principal of an Authorization header; UNAUTHENTICATED when missing, malformed, unknown or revoked. */
  async authenticate(header: string | string[] | undefined): Promise<Principal> {
    if (typeof header !== 'string' || header.length === 0) throw unauthenticated('An API key is required: send "Authorization: Bearer <key>"');
    const match = /^Bearer\s+(\S{1,512})$/i.exec(header.trim());
    if (!match) throw unauthenticated('Malformed Authorization header: expected "Bearer <key>"');
    const hash = hashApiKey(match[1]);
    const now = Date.now();
    let entry = this.cache.get(hash);
    if (!entry || entry.expires < now) {
      const row = await findActiveKey(this.prisma, hash);
      entry = { principal: row && { keyId: row.id, role: row.role, prefix: row.prefix }, expires: now + (row ? VALID_TTL_MS : INVALID_TTL_MS) };
      if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
      this.cache.set(hash, entry);
    }
    if (!entry.principal) throw unauthenticated('Invalid or revoked API key');
    this.touch(entry.principal.keyId, now);
    return entry.principal;
  }

  /** Records last use, at most once a minute per key, off the request path. */
  private touch(keyId: number, now: number): void {
    if ((this.touched.get(keyId) ?? 0) > now - TOUCH_EVERY_MS) return;
    this.touched.set(keyId, now);
    touchApiKey(this.prisma, keyId).catch((e: Error) => this.logger.warn(`last_used_at of key ${keyId}: ${e.message}`));
  }
}
