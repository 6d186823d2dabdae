import { Global, Module, type DynamicModule } from '@nestjs/common';
import { PgListener } from './pg-listener.js';
import { PgPool } from './pg-pool.js';
import { DATABASE_URL, PrismaService } from './prisma.service.js';

/** PrismaService for every feature module; the URL is resolved (embedded or not) before boot. */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [{ provide: DATABASE_URL, useValue: url }, PrismaService, PgPool, PgListener],
      exports: [PrismaService, PgPool, PgListener, DATABASE_URL],
    };
  }
}
