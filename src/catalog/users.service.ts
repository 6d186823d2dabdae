import { Inject, Injectable } from '@nestjs/common';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { notFound } from '../common/domain-error.js';
import type { DeletionResult } from '../common/dto/page-info.type.js';
import { checkAttributes, checkBatch, checkBatchId, checkId } from '../common/validation.js';
import { PrismaService } from '../database/prisma.service.js';
import { toUser } from './catalog.mappers.js';
import { HistoryCache } from './history-cache.service.js';
import { upsertUsers } from './catalog.queries.js';
import type { UpsertUserInput } from './dto/user.input.js';
import type { User } from './dto/user.type.js';

@Injectable()
export class UsersService {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(ENV) private readonly env: Env,
    private readonly histories: HistoryCache,
  ) {}

  async upsert(inputs: UpsertUserInput[]): Promise<User[]> {
    checkBatch('users', inputs, this.env.maxBatchSize);
    const seen = new Set<string>();
    const users = inputs.map((input, i) => {
      const field = `users[${i}]`;
      const id = checkBatchId(field, input.id, seen);
      return {
        id,
        attributes: input.attributes == null ? null : checkAttributes(`${field}.attributes`, input.attributes),
      };
    });
    const rows = await this.prisma.$transaction((tx) => upsertUsers(tx, users));
    return rows.map(toUser);
  }

  async get(id: string, field = 'id'): Promise<User> {
    const row = await this.prisma.user.findUnique({ where: { externalId: checkId(field, id) } });
    if (!row) throw notFound('User', id, field);
    return toUser(row);
  }

  /** Privacy deletion: the user and every interaction of theirs, in one transaction. */
  async delete(id: string): Promise<DeletionResult> {
    checkId('userId', id);
    const { result, userId } = await this.prisma.$transaction(async (tx) => {
      const user = await tx.user.findUnique({ where: { externalId: id }, select: { id: true } });
      if (!user) throw notFound('User', id, 'userId');
      const { count } = await tx.interaction.deleteMany({ where: { userId: user.id } });
      await tx.user.delete({ where: { id: user.id } });
      return { result: { id, deletedInteractions: count }, userId: user.id };
    });
    this.histories.invalidate([userId]); // this process at once, the others on the trigger's notice
    return result;
  }
}
