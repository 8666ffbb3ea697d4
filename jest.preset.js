// Shared Jest settings; each project's jest.config.js spreads this and sets rootDir/displayName.
// Tests live beside the code as *.spec.ts and are compiled by swc (no type-checking here:
// `npm run typecheck` does that).
const path = require('node:path');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: path.join(__dirname, 'tools/jest/node-environment.js'),
  testMatch: ['**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json', 'node'],
  // `@facepipe/<lib>` -> libs/<lib>/src/index.ts, the same mapping as the tsconfig paths.
  // Deep imports (`@facepipe/<lib>/...`) are deliberately not mapped.
  moduleNameMapper: {
    '^@facepipe/([^/]+)$': path.join(__dirname, 'libs/$1/src/index.ts'),
  },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        swcrc: false,
        sourceMaps: 'inline',
        module: { type: 'commonjs' },
        jsc: {
          target: 'es2022',
          keepClassNames: true,
          parser: { syntax: 'typescript', decorators: true },
          // NestJS needs legacy decorators with emitted design-time metadata.
          transform: { legacyDecorator: true, decoratorMetadata: true },
        },
      },
    ],
  },
  testTimeout: 30000,
};
