#!/usr/bin/env node
'use strict';
/*
 * Launcher of the facepipe CLI (built to dist/apps/cli/main.js by `npm run build`, which
 * `npm ci` runs through the `prepare` script).
 *
 * Why the relaunch: onnxruntime-node 1.30 reads /proc/self/cmdline while creating a session and
 * parses it recursively, one stack frame per few bytes; past ~32 KB of command line the process
 * dies with SIGSEGV (a stack overflow: `ulimit -s 65536` makes the same call pass). A glob of a few
 * hundred photo paths is enough. So when our own arguments are long, we start a child with a short
 * command line and hand it the arguments through an inherited pipe (fd 3); stdin stays free for
 * `--files-from -`.
 */
const { spawn } = require('node:child_process');
const { readFileSync, existsSync } = require('node:fs');
const path = require('node:path');

const ARGV_FD_ENV = 'FACEPIPE_ARGV_FD';
// Well under the ~32 KB at which the crash starts, leaving room for node's own path and flags.
const MAX_INLINE_ARGV_BYTES = 8 * 1024;

function main() {
  const passedFd = process.env[ARGV_FD_ENV];
  if (passedFd) {
    delete process.env[ARGV_FD_ENV];
    return runCli(JSON.parse(readFileSync(Number(passedFd), 'utf8')));
  }
  const args = process.argv.slice(2);
  const bytes = args.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
  if (bytes <= MAX_INLINE_ARGV_BYTES) return runCli(args);

  const child = spawn(process.execPath, [...process.execArgv, __filename], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, [ARGV_FD_ENV]: '3' },
  });
  child.stdio[3].on('error', () => {}); // the child may exit before reading (e.g. --help)
  child.stdio[3].end(JSON.stringify(args));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

function runCli(args) {
  const entry = path.join(__dirname, '..', 'dist', 'apps', 'cli', 'main.js');
  if (!existsSync(entry)) {
    process.stderr.write('facepipe: the CLI is not built yet; run `npm run build` (npm ci does it) in the repository\n');
    process.exit(2);
  }
  require(entry)
    .run(args)
    .then((code) => { process.exitCode = code; })
    .catch((err) => {
      process.stderr.write(`facepipe: ${err && err.stack ? err.stack : err}\n`);
      process.exitCode = 1;
    });
}

main();
