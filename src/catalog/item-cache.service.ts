import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { PgListener } from '../database/pg-listener.js';
import { PgPool } from '../database/pg-pool.js';
import type { ItemRow } from './catalog.mappers.js';

/** The channel the items triggers announce changes on (migration 20261128075000_notify_item_changes). */
export const ITEMS_CHANGED_CHANNEL = 'recoder_items_changed';
/** Entries kept at most; beyond it the cache starts over (a bound, not an LRU: catalogs this size rarely churn). */
const MAX_ENTRIES = 200_000;

const ITEM_FIELDS = `id, external_id AS "externalId", title, categories, attributes, hidden,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

/**
 * Item rows by internal and external id, cached per process for the serving hot path. Every
 * committed UPDATE/DELETE/TRUNCATE of `items` NOTIFYs the changed ids (statement-level triggers);
 * this process's own catalog mutations also invalidate directly, so its next request never sees a
 * stale row (other processes within the notification's delivery time, milliseconds). A fetch that
 * overlaps an invalidation is not cached (generation check), so a stale row cannot be re-inserted.
 */
@Injectable()
export class ItemCache implements OnModuleInit {
  private readonly logger = new Logger('ItemCache');
  private readonly byId = new Map<number, ItemRow>();
  private readonly idOfExternal = new Map<string, number>();
  private generation = 0;

  constructor(
    private readonly pool: PgPool,
    private readonly listener: PgListener,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.listener.subscribe(ITEMS_CHANGED_CHANNEL, {
      onNotify: (payload) => this.invalidate(payload === '*' ? '*' : payload.split(',').map(Number)),
      onReconnect: () => this.invalidate('*'),
    });
  }

  /** Drops the given internal ids (or everything). */
  invalidate(ids: readonly number[] | '*'): void {
    this.generation++;
    if (ids === '*') {
      this.byId.clear();
      this.idOfExternal.clear();
      return;
    }
    for (const id of ids) {
      const row = this.byId.get(id);
      if (row) this.idOfExternal.delete(row.externalId);
      this.byId.delete(id);
    }
  }

  /** The cached row of an internal id (hidden ones included), or undefined when it is not in memory. */
  peek(id: number): ItemRow | undefined {
    return this.byId.get(id);
  }

  /** Rows (hidden ones included) of existing items among `ids`, keyed by internal id. */
  async byInternalIds(ids: readonly number[]): Promise<Map<number, ItemRow>> {
    const out = new Map<number, ItemRow>();
    const missing: number[] = [];
    for (const id of ids) {
      const row = this.byId.get(id);
      if (row) out.set(id, row);
      else missing.push(id);
    }
    if (missing.length > 0) {
      const rows = await this.fetch('id = ANY($1::int[])', missing);
      for (const r of rows) out.set(r.id, r);
    }
    return out;
  }

  /** Rows of existing items among external `ids`, keyed by external id. */
  async byExternalIds(ids: readonly string[]): Promise<Map<string, ItemRow>> {
    const out = new Map<string, ItemRow>();
    const missing: string[] = [];
    for (const e of ids) {
      const id = this.idOfExternal.get(e);
      const row = id === undefined ? undefined : this.byId.get(id);
      if (row) out.set(e, row);
      else missing.push(e);
    }
    if (missing.length > 0) {
      const rows = await this.fetch('external_id = ANY($1::text[])', missing);
      for (const r of rows) out.set(r.externalId, r);
    }
    return out;
  }

  /** Visible (not hidden) rows among `ids`, in the order of `ids`. */
  async visible(ids: readonly number[]): Promise<ItemRow[]> {
    const rows = await this.byInternalIds(ids);
    const out: ItemRow[] = [];
    for (const id of ids) {
      const r = rows.get(id);
      if (r && !r.hidden) out.push(r);
    }
    return out;
  }

  private async fetch(where: string, values: readonly (number | string)[]): Promise<ItemRow[]> {
    const generation = this.generation;
    const { rows } = await this.pool.query<ItemRow>(`SELECT ${ITEM_FIELDS} FROM items WHERE ${where}`, [values]);
    if (generation === this.generation) {
      if (this.byId.size + rows.length > MAX_ENTRIES) {
        this.logger.debug(`item cache reached ${MAX_ENTRIES} entries; starting over`);
        this.byId.clear();
        this.idOfExternal.clear();
      }
      for (const r of rows) {
        this.byId.set(r.id, r);
        this.idOfExternal.set(r.externalId, r.id);
      }
    }
    return rows;
  }
}
