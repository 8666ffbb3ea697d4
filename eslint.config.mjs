// ESLint flat config for the whole workspace; each Nx project's `lint` target runs `eslint <projectRoot>`.
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const nodeCommonJsGlobals = {
  require: 'readonly',
  module: 'writable',
  exports: 'writable',
  __dirname: 'readonly',
  __filename: 'readonly',
  process: 'readonly',
  console: 'readonly',
  Buffer: 'readonly',
};

export default defineConfig(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'scratch/**', '**/coverage/**', '.nx/**', 'tmp/**'],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'commonjs', globals: nodeCommonJsGlobals },
  },
  {
    files: ['**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    files: ['**/*.ts', '**/*.js', '**/*.cjs', '**/*.mjs'],
    plugins: { '@nx': nx },
    rules: {
      // Libraries are reached only through their `@facepipe/<lib>` alias (no relative or deep
      // imports across projects), no circular dependencies, and:
      //   type:lib -> type:lib only;  type:app -> type:lib only (never another app).
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          enforceBuildableLibDependency: true,
          depConstraints: [
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
          ],
        },
      ],
      // The rule above cannot see `@facepipe/<lib>/<path>` (no tsconfig path matches it, so it
      // looks like an npm package); ban such deep imports explicitly.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^@facepipe/[^/]+/',
              message: 'Import a library only through its entry point: `@facepipe/<lib>`.',
            },
          ],
        },
      ],
    },
  },
);
