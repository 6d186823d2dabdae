import { Inject } from '@nestjs/common';
import { Context, Field, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { ApiRole } from '../generated/prisma/enums.js';
import type { Principal } from './auth.service.js';
import { Requires } from './roles.js';

@ObjectType({ description: "Who is asking: the role of the request's API key (front ends show only what it may do)." })
export class Viewer {
  @Field(() => ApiRole, { description: "The key's role; ADMIN when the server requires no keys (RECODER_AUTH=off)." })
  role: ApiRole;

  @Field({ description: 'Whether the server requires API keys (RECODER_AUTH=required).' })
  authRequired: boolean;

  @Field(() => String, { nullable: true, description: 'The first characters of the key (null without keys).' })
  keyPrefix: string | null;
}

@Resolver(() => Viewer)
@Requires('READER')
export class ViewerResolver {
  constructor(@Inject(ENV) private readonly env: Env) {}

  @Query(() => Viewer, { description: 'The role of the API key making the request.' })
  async viewer(@Context() ctx: { principal?: Promise<Principal> }): Promise<Viewer> {
    if (this.env.auth === 'off' || !ctx.principal)
      return { role: ApiRole.ADMIN, authRequired: this.env.auth === 'required', keyPrefix: null };
    const principal = await ctx.principal;
    return { role: principal.role, authRequired: true, keyPrefix: principal.prefix };
  }
}
