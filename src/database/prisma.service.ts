import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';

export const DATABASE_URL = Symbol('DATABASE_URL');

/** Creates a PrismaClient on the driver adapter (no engine binary; docs/platform-notes.md). Scripts use this too. */
export function createPrismaClient(url: string, max = 10): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max }) });
}

/** The server's PrismaClient: connects at init, disconnects at shutdown. */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(PrismaService.name);

  constructor(@Inject(DATABASE_URL) url: string) {
    super({ adapter: new PrismaPg({ connectionString: url, max: 10 }) });
  }

  async onModuleInit(): Promise<void> {
    const started = Date.now();
    await this.$connect();
    await this.$queryRaw`SELECT 1`;
    this.logger.log(`Connected to PostgreSQL in ${Date.now() - started} ms`);
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }
}
