import type { Item as ItemRow, User as UserRow } from '../generated/prisma/client.js';
import type { Item } from './dto/item.type.js';
import type { User } from './dto/user.type.js';

export type { ItemRow, UserRow };

export function toItem(row: ItemRow): Item {
  return {
    id: row.externalId,
    title: row.title,
    categories: row.categories,
    attributes: (row.attributes ?? {}) as Record<string, unknown>,
    hidden: row.hidden,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    internalId: row.id,
  };
}

export function toUser(row: UserRow): User {
  return {
    id: row.externalId,
    internalId: row.id,
    attributes: (row.attributes ?? {}) as Record<string, unknown>,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
