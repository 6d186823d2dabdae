import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { FastifyReply } from 'fastify';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { AuthService, requestPrincipal, type Principal } from './auth.service.js';
import { REQUIRED_ROLE, roleAtLeast, type ApiRole } from './roles.js';

/**
 * Every GraphQL root field needs the role its resolver declares (@Requires), ADMIN when it
 * declares none. The key is resolved once per request, by the HTTP gate before validation. HTTP routes outside GraphQL (/health,
 * /ready, /metrics) are not guarded here.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType<GqlContextType>() !== 'graphql' || this.env.auth === 'off') return true;
    const required =
      this.reflector.getAllAndOverride<ApiRole | undefined>(REQUIRED_ROLE, [
        context.getHandler(),
        context.getClass(),
      ]) ?? 'ADMIN';
    const gql = GqlExecutionContext.create(context);
    const ctx = gql.getContext<{ reply?: FastifyReply; principal?: Promise<Principal> }>();
    // Resolved by the HTTP gate (src/graphql/http-gate.ts) before validation; looked up here only
    // for a request that did not pass through it.
    const admitted = requestPrincipal(ctx.reply?.request);
    ctx.principal ??= admitted
      ? Promise.resolve(admitted)
      : this.auth.authenticate(ctx.reply?.request.headers.authorization);
    const principal = await ctx.principal;
    if (!roleAtLeast(principal.role, required)) {
      const field = gql.getInfo<{ fieldName: string }>().fieldName;
      throw new DomainError(
        ErrorCode.FORBIDDEN,
        `${field} needs an API key with the ${required} role; this key (${principal.prefix}…) is ${principal.role}`,
        undefined,
        {
          required,
          role: principal.role,
        },
      );
    }
    return true;
  }
}
