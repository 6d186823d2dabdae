import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The folders of src/ (src/core has its own rule below; src/generated is Prisma's output). */
const SRC_FOLDERS = [
  'auth',
  'catalog',
  'common',
  'config',
  'core',
  'dashboard',
  'database',
  'datasets',
  'experiments',
  'generated',
  'graphql',
  'images',
  'interactions',
  'ops',
  'registry',
  'serving',
  'training',
];

/**
 * The module boundaries: each folder of src/ and the other folders it may import (anything not
 * listed is an error). Training and serving both depend on the registry and never on each other;
 * the registry knows neither; catalog knows nothing of images; the lower layers (config, common,
 * database) know no feature. src/graphql assembles the schema (it lists every resolver), and the
 * files at the root of src/ (app.module.ts, main.ts, worker.ts) compose everything.
 */
const MAY_IMPORT = {
  config: [],
  common: ['config', 'generated'],
  database: ['common', 'config', 'generated'],
  datasets: ['common', 'config', 'core'],
  dashboard: ['common', 'config'],
  auth: ['common', 'config', 'database', 'generated', 'graphql'],
  registry: ['common', 'config', 'core', 'database', 'generated'],
  catalog: ['auth', 'common', 'config', 'database', 'generated'],
  images: ['auth', 'catalog', 'common', 'config', 'core', 'database', 'generated'],
  ops: ['catalog', 'common', 'config', 'core', 'database', 'generated', 'serving'],
  interactions: ['auth', 'catalog', 'common', 'config', 'core', 'database', 'generated', 'ops'],
  serving: ['auth', 'catalog', 'common', 'config', 'core', 'database', 'generated', 'images', 'registry'],
  experiments: ['auth', 'common', 'config', 'core', 'database', 'generated', 'ops', 'serving'],
  training: ['auth', 'common', 'config', 'core', 'database', 'experiments', 'generated', 'images', 'ops', 'registry'],
  graphql: [
    'auth',
    'catalog',
    'common',
    'config',
    'database',
    'experiments',
    'generated',
    'images',
    'interactions',
    'ops',
    'registry',
    'serving',
    'training',
  ],
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'src/generated/**',
      'coverage/**',
      '.data/**',
      'data/**',
      'clients/*/dist/**',
      'clients/typescript/src/generated/**',
      'examples/*/dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Browser scripts served as they are (classic scripts; React, ReactDOM and GraphiQL are UMD globals).
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        localStorage: 'readonly',
        React: 'readonly',
        ReactDOM: 'readonly',
        GraphiQL: 'readonly',
      },
    },
  },
  {
    // The dashboard (web/dashboard, built by vite): browser modules.
    files: ['web/dashboard/**/*.{ts,tsx}'],
    languageOptions: {
      globals: {
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        sessionStorage: 'readonly',
        fetch: 'readonly',
        performance: 'readonly',
        devicePixelRatio: 'readonly',
        requestAnimationFrame: 'readonly',
        cancelAnimationFrame: 'readonly',
        addEventListener: 'readonly',
        removeEventListener: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        ResizeObserver: 'readonly',
        URLSearchParams: 'readonly',
      },
    },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The ML core is plain TypeScript: no Nest, no Prisma, no server code, no environment.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@nestjs/*', '@prisma/*', 'prisma', 'pg', 'pg-*'],
              message: 'src/core stays free of Nest, Prisma and database drivers.',
            },
            // Every core file is src/core/<folder>/<file>.ts: "../../" leaves the core.
            {
              regex: '^\\.\\./\\.\\./',
              message:
                'src/core must not import server code (docs/architecture.md, "Modules and who may import whom").',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'src/core takes options, not env.' },
      ],
    },
  },
  // Who may import whom among the server's folders (docs/architecture.md has the diagram).
  ...Object.entries(MAY_IMPORT).map(([folder, allowed]) => {
    const forbidden = SRC_FOLDERS.filter((f) => f !== folder && !allowed.includes(f));
    return {
      files: [`src/${folder}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                regex: `^(\\.\\./)+(${forbidden.join('|')})/`,
                message: `src/${folder} may import only ${allowed.length ? allowed.map((f) => `src/${f}`).join(', ') : 'its own files'} (docs/architecture.md, "Modules and who may import whom").`,
              },
            ],
          },
        ],
      },
    };
  }),
);
