// Test support for the gateway's specs (not part of the app bundle): a real app on a free port
// against the real Redis, under its own key prefix and data directory, removed afterwards.
import { QUEUES } from '@facepipe/contracts';
import { JobStore, Queues } from '@facepipe/pipeline';
import type { INestApplication } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GatewayLogger } from '../common/gateway-logger';
import { type GatewayConfig, loadGatewayConfig } from '../config/gateway-config';
import { type CreateGatewayOptions, createGatewayApp } from '../main';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DEMO_DIR = path.resolve(__dirname, '../../../../node_modules/@vladmandic/face-api/demo');

let counter = 0;

/** facepipe-test-gw-<pid>-<ms>, unique per app within a test run. */
export function testPrefix(): string {
  return `facepipe-test-gw-${process.pid}-${Date.now()}-${++counter}`;
}

export interface TestEnv {
  env: NodeJS.ProcessEnv;
  prefix: string;
  dataDir: string;
  /** Deletes this environment's Redis keys and data directory. */
  cleanup(): Promise<void>;
}

/** The environment a test gateway reads: only what the test sets (the developer's env stays out). */
export function testEnv(extra: Record<string, string> = {}): TestEnv {
  const prefix = testPrefix();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-gw-'));
  return {
    prefix,
    dataDir,
    env: { REDIS_URL, HOST: '127.0.0.1', PORT: '0', FACEPIPE_PREFIX: prefix, FACEPIPE_DATA_DIR: dataDir, ...extra },
    async cleanup() {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        await deleteKeys(redis, prefix);
      } finally {
        redis.disconnect();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Response bodies in specs: parsed JSON, read loosely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface TestGateway {
  app: INestApplication;
  base: string;
  config: GatewayConfig;
  prefix: string;
  dataDir: string;
  /** A connection of the test's own, for looking at what the gateway wrote. */
  redis: Redis;
  jobStore: JobStore;
  queues: Queues;
  detectQueue: Queue;
  logs: string[];
  fetch(pathname: string, init?: RequestInit & { json?: unknown }): Promise<{ status: number; body: Json; headers: Headers; text: string }>;
  close(): Promise<void>;
}

export async function startTestGateway(extraEnv: Record<string, string> = {}, options: Pick<CreateGatewayOptions, 'extraModules'> = {}): Promise<TestGateway> {
  const { env, prefix, dataDir, cleanup } = testEnv(extraEnv);
  const config = loadGatewayConfig(env);
  const logs: string[] = [];
  const app = await createGatewayApp(config, { ...options, logger: new GatewayLogger('gateway', { write: (line) => logs.push(line) }) });
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queues = new Queues(redis, prefix);
  const jobStore = new JobStore(redis, prefix, config.jobRetentionSeconds);
  const detectQueue = queues.get(QUEUES.detect);
  return {
    app,
    base,
    config,
    prefix,
    dataDir,
    redis,
    jobStore,
    queues,
    detectQueue,
    logs,
    async fetch(pathname, init = {}) {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      let body = rest.body;
      if (json !== undefined) {
        headers.set('content-type', 'application/json');
        body = JSON.stringify(json);
      }
      const res = await fetch(base + pathname, { ...rest, headers, body });
      const text = await res.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      return { status: res.status, body: parsed, headers: res.headers, text };
    },
    async close() {
      await app.close();
      await queues.close();
      redis.disconnect();
      await cleanup();
    },
  };
}

/** Deletes this run's keys only (SCAN, never FLUSHDB: the Redis may be shared). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
