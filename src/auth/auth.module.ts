import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeysResolver } from './api-keys.resolver.js';
import { ApiKeyGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { RateLimitService } from '../graphql/rate-limit.js';
import { ViewerResolver } from './viewer.resolver.js';

/** API keys and roles (a global guard on every GraphQL root field) and the rate-limit budgets. */
@Module({
  providers: [
    AuthService,
    RateLimitService,
    ApiKeysResolver,
    ViewerResolver,
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ],
})
export class AuthModule {}
