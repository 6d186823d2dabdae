import { Args, Field, Int, Mutation, ObjectType, Query, registerEnumType, Resolver } from '@nestjs/graphql';
import { notFound } from '../common/domain-error.js';
import { checkString } from '../common/validation.js';
import { PrismaService } from '../database/prisma.service.js';
import { ApiRole } from '../generated/prisma/enums.js';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from './api-keys.queries.js';
import { Requires } from './roles.js';
import { DateTimeScalar } from '../common/date-time.scalar.js';

registerEnumType(ApiRole, {
  name: 'ApiRole',
  description:
    'READER: queries. WRITER: also recordInteractions and catalog upserts. ADMIN: also deletions, training, activation and API keys.',
});

@ObjectType({ description: 'An API key (its secret is shown only when created).' })
export class ApiKey {
  @Field(() => Int)
  id: number;

  @Field()
  name: string;

  @Field(() => ApiRole)
  role: ApiRole;

  @Field({ description: 'The first characters of the key, to recognise it.' })
  prefix: string;

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'Last request with this key (updated at most once a minute).',
  })
  lastUsedAt: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  revokedAt: Date | null;
}

@ObjectType()
export class CreatedApiKey {
  @Field(() => ApiKey)
  apiKey: ApiKey;

  @Field({
    description: 'The secret: send it as "Authorization: Bearer <secret>". It is not stored and cannot be shown again.',
  })
  secret: string;
}

/** API keys over GraphQL for admins (the CLI `npm run apikey` does the same). */
@Resolver(() => ApiKey)
@Requires('ADMIN')
export class ApiKeysResolver {
  constructor(private readonly prisma: PrismaService) {}

  @Query(() => [ApiKey], { description: 'API keys, oldest first (ADMIN).' })
  async apiKeys(@Args('includeRevoked', { defaultValue: false }) includeRevoked: boolean): Promise<ApiKeyRow[]> {
    return listApiKeys(this.prisma, includeRevoked);
  }

  @Mutation(() => CreatedApiKey, { description: 'Creates an API key (ADMIN); the secret is returned once.' })
  async createApiKey(
    @Args('name') name: string,
    @Args('role', { type: () => ApiRole }) role: ApiRole,
  ): Promise<CreatedApiKey> {
    checkString('name', name, 128);
    const { key, row } = await createApiKey(this.prisma, { name, role });
    return { apiKey: row, secret: key };
  }

  @Mutation(() => ApiKey, { description: 'Revokes an API key (ADMIN); every API process stops accepting it at once.' })
  async revokeApiKey(@Args('id', { type: () => Int }) id: number): Promise<ApiKeyRow> {
    const row = await revokeApiKey(this.prisma, id);
    if (!row) throw notFound('Active API key', String(id), 'id');
    return row;
  }
}
