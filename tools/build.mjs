// Bundles every apps/<app>/src/main.ts into dist/apps/<app>/main.js with esbuild.
// Dependencies in node_modules stay external (`packages: 'external'`); workspace libraries
// (`@facepipe/<lib>`, a tsconfig path alias) are resolved through each app's tsconfig and bundled.
//
// NOTE: esbuild honours `experimentalDecorators` from tsconfig but does NOT implement
// `emitDecoratorMetadata`. When the gateway becomes a NestJS app (which relies on design-time
// metadata for dependency injection), it will need to be compiled with swc or tsc instead.
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();

const apps = readdirSync(path.join(root, 'apps'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(root, 'apps', d.name, 'src', 'main.ts')))
  .map((d) => d.name)
  .sort();

rmSync(path.join(root, 'dist', 'apps'), { recursive: true, force: true });

await Promise.all(
  apps.map((app) => {
    const appRoot = path.join(root, 'apps', app);
    const tsconfig = path.join(appRoot, 'tsconfig.json');
    return build({
      absWorkingDir: root,
      entryPoints: [path.join(appRoot, 'src', 'main.ts')],
      outfile: path.join(root, 'dist', 'apps', app, 'main.js'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: true,
      packages: 'external',
      tsconfig: existsSync(tsconfig) ? tsconfig : path.join(root, 'tsconfig.base.json'),
      logLevel: 'warning',
    });
  }),
);

console.log(`built ${apps.map((a) => `dist/apps/${a}/main.js`).join(', ')} in ${Date.now() - started} ms`);
