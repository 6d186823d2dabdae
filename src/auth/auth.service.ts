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
const INVALID_TTL_MS = 30_000;
const MAX_VALID = 10_000;
const MAX_INVALID = 10_000;
const TOUCH_EVERY_MS = 60_000;

export interface Principal {
  keyId: number;
  role: ApiKeyRow['role'];
  prefix: string;
}

const unauthenticated = (message: string) => new DomainError(ErrorCode.UNAUTHENTICATED, message);

/** A parsed Authorization header: the key's hash, or why there is none. */
export type ParsedCredentials = { hash: string } | { error: DomainError };

/**
 * `Authorization: Bearer <key>` as every client spells it: the scheme in any case, any run of
 * spaces or tabs before the key, surrounding whitespace ignored. Two spellings of one key give one
 * hash, so one identity (and one rate-limit bucket).
 */
export function parseAuthorization(header: string | string[] | undefined): ParsedCredentials {
  if (typeof header !== 'string' || header.length === 0)
    return { error: unauthenticated('An API key is required: send "Authorization: Bearer <key>"') };
  const match = /^Bearer[ \t]+(\S{1,512})$/i.exec(header.trim());
  if (!match) return { error: unauthenticated('Malformed Authorization header: expected "Bearer <key>"') };
  return { hash: hashApiKey(match[1]) };
}

/** Principals resolved for a request by the GraphQL HTTP gate (src/graphql/http-gate.ts), read by the guard. */
const requestPrincipals = new WeakMap<object, Principal>();
export const setRequestPrincipal = (request: object, principal: Principal) => requestPrincipals.set(request, principal);
export const requestPrincipal = (request: object | undefined): Principal | undefined =>
  request ? requestPrincipals.get(request) : undefined;

/**
 * Resolves `Authorization: Bearer <key>` to the key's role. Lookups are cached per process: valid
 * keys for a minute, unknown ones (the negative cache, its own bounded map so that a flood of junk
 * keys cannot evict the valid ones) for 30 s; revocations clear both through NOTIFY, so a revoked key
 * stops working within the notification's delivery time. `lookups` counts database lookups.
 */
@Injectable()
export class AuthService implements OnModuleInit {
  private readonly logger = new Logger('Auth');
  private readonly valid = new Map<string, { principal: Principal; expires: number }>();
  private readonly invalid = new Map<string, number>();
  private readonly touched = new Map<number, number>();
  /** Database lookups of keys so far (what the negative cache and the failure budget save). */
  lookups = 0;

  constructor(
    private readonly prisma: PrismaService,
    private readonly listener: PgListener,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.env.auth === 'off') {
      this.logger.warn(
        'RECODER_AUTH=off: the GraphQL API is open to anyone who can reach it (no API key needed for any operation)',
      );
      return;
    }
    const clear = () => {
      this.valid.clear();
      this.invalid.clear();
    };
    await this.listener.subscribe(API_KEYS_CHANNEL, { onNotify: clear, onReconnect: clear });
  }

  /** The principal of an Authorization header; UNAUTHENTICATED when missing, malformed, unknown or revoked. */
  async authenticate(header: string | string[] | undefined): Promise<Principal> {
    const parsed = parseAuthorization(header);
    if ('error' in parsed) throw parsed.error;
    const cached = this.cached(parsed.hash);
    const principal = cached === undefined ? await this.lookup(parsed.hash) : cached;
    if (!principal) throw unauthenticated('Invalid or revoked API key');
    return principal;
  }

  /** From the caches: the principal, null for a key known to be invalid, undefined when not cached. */
  cached(hash: string): Principal | null | undefined {
    const now = Date.now();
    const hit = this.valid.get(hash);
    if (hit && hit.expires >= now) {
      this.touch(hit.principal.keyId, now);
      return hit.principal;
    }
    const miss = this.invalid.get(hash);
    if (miss !== undefined && miss >= now) return null;
    return undefined;
  }

  /** Looks the key up in the database and caches the answer (a principal, or null). */
  async lookup(hash: string): Promise<Principal | null> {
    this.lookups++;
    const row = await findActiveKey(this.prisma, hash);
    const now = Date.now();
    if (!row) {
      if (this.invalid.size >= MAX_INVALID) this.invalid.delete(this.invalid.keys().next().value!);
      this.invalid.set(hash, now + INVALID_TTL_MS);
      return null;
    }
    const principal = { keyId: row.id, role: row.role, prefix: row.prefix };
    if (this.valid.size >= MAX_VALID) this.valid.delete(this.valid.keys().next().value!);
    this.valid.set(hash, { principal, expires: now + VALID_TTL_MS });
    this.touch(principal.keyId, now);
    return principal;
  }

  /** Records last use, at most once a minute per key, off the request path. */
  private touch(keyId: number, now: number): void {
    if ((this.touched.get(keyId) ?? 0) > now - TOUCH_EVERY_MS) return;
    this.touched.set(keyId, now);
    touchApiKey(this.prisma, keyId).catch((e: Error) => this.logger.warn(`last_used_at of key ${keyId}: ${e.message}`));
  }
}
