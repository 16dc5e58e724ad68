// Lint rules for the whole repository: typescript-eslint's type-aware recommended set, the size limits that
// keep src/ readable, and import hygiene. Formatting is Prettier's job (`eslint-config-prettier` turns off the
// rules that would fight it); the import direction between layers is dependency-cruiser's (.dependency-cruiser.cjs).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // Generated (migrations by `npm run migration:create`, dist/ by tsc, the dashboard's operations by `npm run codegen`) or recorded output.
  globalIgnores(['dist/', '.data/', 'coverage/', 'docs/', 'bench/results/', 'src/db/migrations/', 'dashboard/src/gql/', 'test-results/']),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Type-only imports stay `import type`, as the code already writes them: they vanish from the emitted
      // JavaScript, so a type never drags a module (and its side effects) into the import graph.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'separate-type-imports' }],
      'no-duplicate-imports': ['error', { allowSeparateTypeImports: true }],
      // The code's convention for a deliberately unused name: an underscore, or a property left out by a rest.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Plain JavaScript (the tool configs, scripts/start.mjs) is outside tsconfig.json: lint it without type information.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    // Black-box tests and benches read the API's JSON answers and raw SQL rows as `Untyped` (test/helpers/graphql.ts),
    // on purpose: they assert on the shape that arrives, not on a compile-time copy of the schema. So the rules that
    // follow an `any` through member accesses and calls guard production code only; `no-explicit-any` still applies.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The size limits: no source file over 400 lines, no function over 80, counting every line.
    files: ['src/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: false, skipComments: false, IIFEs: true }],
    },
  },
  prettier,
);
