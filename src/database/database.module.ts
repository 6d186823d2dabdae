import { Global, Module, type DynamicModule } from '@nestjs/common';
import { PgListener } from './pg-listener.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { PgPool, READ_POOL } from './pg-pool.js';
import { DATABASE_URL, PrismaService } from './prisma.service.js';

/** PrismaService for every feature module; the URL is resolved (embedded or not) before boot. */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        { provide: DATABASE_URL, useValue: url },
        PrismaService,
        PgPool,
        PgListener,
        // DATABASE_READ_URL's pool for the hot read paths, or the primary pool itself.
        {
          provide: READ_POOL,
          useFactory: (primary: PgPool, env?: Env) =>
            env?.databaseReadUrl ? new PgPool(env.databaseReadUrl) : primary,
          inject: [PgPool, { token: ENV, optional: true }],
        },
      ],
      exports: [PrismaService, PgPool, PgListener, DATABASE_URL, READ_POOL],
    };
  }
}
