import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/config/env.js';
import { buildSchemaSdl } from '../src/graphql/schema-file.js';

const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, stdout: { type: 'boolean' } } });
if (values.help) {
  console.log(
    'Usage: npm run schema:print [-- --stdout]\nWrites the GraphQL schema (SDL) to schema.gql, or prints it.',
  );
} else {
  const sdl = await buildSchemaSdl();
  if (values.stdout) process.stdout.write(sdl);
  else {
    const file = path.join(PROJECT_ROOT, 'schema.gql');
    await writeFile(file, sdl);
    console.log(`Wrote ${file}`);
  }
}
