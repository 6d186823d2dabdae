import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { PROJECT_ROOT } from '../src/config/env.js';
import { buildSchemaSdl, printSortedSchema } from '../src/graphql/schema-file.js';
import { bootApp } from './helpers.js';

describe('schema.gql', () => {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    app = await bootApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('is what the running server serves (run `npm run schema:print` after changing the API)', async () => {
    const committed = await readFile(path.join(PROJECT_ROOT, 'schema.gql'), 'utf8');
    const served = printSortedSchema(app.get(GraphQLSchemaHost).schema);
    expect(served).toEqual(committed);
    expect(await buildSchemaSdl()).toEqual(committed);
  });
});
