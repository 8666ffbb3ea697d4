// Bundles every apps/<app>/src/main.ts into dist/apps/<app>/main.js with esbuild.
// Dependencies in node_modules stay external (`packages: 'external'`); workspace libraries
// (`@facepipe/<lib>`, a tsconfig path alias) are resolved through each app's tsconfig and bundled.
//
// esbuild does not implement `emitDecoratorMetadata`, which NestJS dependency injection relies on,
// so TypeScript files are transpiled by swc (the same settings as the Jest transform) and esbuild
// only bundles.
import { transformFile } from '@swc/core';
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const swcTypeScript = {
  name: 'swc-typescript',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const { code } = await transformFile(args.path, {
        swcrc: false,
        sourceMaps: 'inline',
        jsc: {
          target: 'es2022',
          keepClassNames: true,
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
        },
        module: { type: 'es6' },
      });
      return { contents: code, loader: 'js' };
    });
  },
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();

const apps = readdirSync(path.join(root, 'apps'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(root, 'apps', d.name, 'src', 'main.ts')))
  .map((d) => d.name)
  .sort();

// Benchmark scripts (bench/<name>.ts) are built the same way, to dist/bench/<name>.js.
const benches = readdirSync(path.join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();

rmSync(path.join(root, 'dist', 'apps'), { recursive: true, force: true });
rmSync(path.join(root, 'dist', 'bench'), { recursive: true, force: true });

const targets = [
  ...apps.map((app) => ({
    entry: path.join(root, 'apps', app, 'src', 'main.ts'),
    out: path.join(root, 'dist', 'apps', app, 'main.js'),
    tsconfig: path.join(root, 'apps', app, 'tsconfig.json'),
  })),
  ...benches.map((name) => ({
    entry: path.join(root, 'bench', `${name}.ts`),
    out: path.join(root, 'dist', 'bench', `${name}.js`),
    tsconfig: path.join(root, 'bench', 'tsconfig.json'),
  })),
];

await Promise.all(
  targets.map(({ entry, out, tsconfig }) => {
    return build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile: out,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: true,
      packages: 'external',
      tsconfig: existsSync(tsconfig) ? tsconfig : path.join(root, 'tsconfig.base.json'),
      logLevel: 'warning',
      plugins: [swcTypeScript],
    });
  }),
);

console.log(`built ${targets.map((t) => path.relative(root, t.out)).join(', ')} in ${Date.now() - started} ms`);
