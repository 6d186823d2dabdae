import { SetMetadata } from '@nestjs/common';
import type { ApiRole } from '../generated/prisma/enums.js';

export type { ApiRole };

/** Roles in increasing power: each includes what the previous ones may do. */
export const ROLE_ORDER: readonly ApiRole[] = ['READER', 'WRITER', 'ADMIN'];

export const REQUIRED_ROLE = 'recoder:requiredRole';

/**
 * The least role a GraphQL operation needs: on a resolver class (its queries) or a method (a
 * mutation). An operation without one needs ADMIN (fail closed).
 */
export const Requires = (role: ApiRole) => SetMetadata(REQUIRED_ROLE, role);

export function roleAtLeast(role: ApiRole, required: ApiRole): boolean {
  return ROLE_ORDER.indexOf(role) >= ROLE_ORDER.indexOf(required);
}
