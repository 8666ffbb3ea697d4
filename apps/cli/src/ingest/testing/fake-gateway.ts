/**
 * An in-memory stand-in for the facepipe gateway's batch API, for the CLI's ingest tests: the
 * routes, bodies, error shape and codes of the README's HTTP API, with photos "processed" by a
 * magic-number check (JPEG/PNG → done with one face, anything else → UNSUPPORTED_IMAGE_FORMAT).
 * The real gateway is exercised by e2e.spec.ts.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface FakeGatewayOptions {
  /** Folders path submissions may read (FACEPIPE_PATH_ROOTS); none by default. */
  pathRoots?: string[];
  apiKey?: string;
  /** Larger uploaded files make the request fail with 413 PHOTO_TOO_LARGE. */
  maxPhotoBytes?: number;
  /** Photos settled per GET /v1/jobs/{id} (default: all). */
  settlePerPoll?: number;
  /** Settle no more than this many photos in all (to keep a job running). */
  settleLimit?: number;
  /** Keys not settled while they are in here (delete one to let it finish). */
  hold?: Set<string>;
}

interface Item {
  key: string;
  bytes?: Buffer;
  path?: string;
  result?: { key: string; status: 'done' | 'failed'; faces: unknown[]; error?: { code: string; message: string } };
}

interface FakeJob {
  id: string;
  collection: string;
  sealed: boolean;
  webhook?: { url: string; secret?: string };
  items: Map<string, Item>;
  createdAt: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  apiKey?: string;
  json?: Record<string, unknown>;
  form?: { fields: Record<string, string>; files: { name: string; size: number }[] };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const JPEG = Buffer.from([0xff, 0xd8, 0xff]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

export class FakeGateway {
  readonly collections = new Map<string, { photos: number; faces: number; people: number }>();
  readonly jobs = new Map<string, FakeJob>();
  readonly requests: LoggedRequest[] = [];
  private server?: http.Server;
  private settled = 0;
  url = '';

  constructor(private readonly opts: FakeGatewayOptions = {}) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      this.handle(req)
        .then(({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        })
        .catch((err: unknown) => {
          const e = err instanceof HttpError ? err : new HttpError(500, 'INTERNAL_ERROR', String(err));
          res.writeHead(e.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: e.code, message: e.message } }));
        });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** The requests as "METHOD /path" lines (query strings dropped). */
  routes(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`);
  }

  private async handle(req: http.IncomingMessage): Promise<{ status: number; body: unknown }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url!, 'http://x');
    const logged: LoggedRequest = { method: req.method!, path: url.pathname + url.search, apiKey: req.headers['x-api-key'] as string | undefined };
    this.requests.push(logged);
    if (this.opts.apiKey && req.headers['x-api-key'] !== this.opts.apiKey) throw new HttpError(401, 'UNAUTHORIZED', 'Missing or invalid x-api-key');

    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const body = async () => {
      const type = req.headers['content-type'] ?? '';
      if (type.startsWith('application/json')) return (logged.json = JSON.parse(raw.toString('utf8')) as Record<string, unknown>);
      if (type.startsWith('multipart/form-data')) {
        const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
        const fields: Record<string, string> = {};
        const files: { name: string; bytes: Buffer }[] = [];
        for (const [name, value] of form) {
          if (typeof value === 'string') fields[name] = value;
          else if (name === 'photos') files.push({ name: value.name, bytes: Buffer.from(await value.arrayBuffer()) });
        }
        logged.form = { fields, files: files.map((f) => ({ name: f.name, size: f.bytes.length })) };
        return { fields, files };
      }
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `unexpected content type ${type}`);
    };

    // /v1/collections...
    if (parts[0] === 'v1' && parts[1] === 'collections') {
      if (parts.length === 2 && req.method === 'POST') {
        const { name } = (await body()) as { name: string };
        this.checkName(name);
        if (this.collections.has(name)) throw new HttpError(409, 'COLLECTION_EXISTS', `collection ${name} exists`);
        this.collections.set(name, { photos: 0, faces: 0, people: 0 });
        return { status: 201, body: { name, photos: 0, faces: 0, people: 0 } };
      }
      const name = parts[2];
      this.checkName(name);
      const c = this.collections.get(name);
      if (!c) throw new HttpError(404, 'COLLECTION_NOT_FOUND', `no collection ${name}`);
      if (parts.length === 3 && req.method === 'GET') return { status: 200, body: { name, ...c } };
      if (parts.length === 4 && parts[3] === 'photos' && req.method === 'POST') {
        const b = await body();
        const job: FakeJob = { id: `j${this.jobs.size + 1}`, collection: name, sealed: true, items: new Map(), createdAt: new Date().toISOString() };
        if ('files' in b) {
          const fields = b.fields as Record<string, string>;
          job.sealed = fields.seal !== 'false';
          if (fields.webhookUrl) job.webhook = { url: fields.webhookUrl, ...(fields.webhookSecret ? { secret: fields.webhookSecret } : {}) };
        } else {
          job.sealed = b.seal !== false;
          job.webhook = b.webhook as FakeJob['webhook'];
        }
        this.addItems(job, b); // throws before the job exists when refused
        this.jobs.set(job.id, job);
        return { status: 202, body: { jobId: job.id } };
      }
    }
    // /v1/jobs/{id}...
    if (parts[0] === 'v1' && parts[1] === 'jobs' && parts[2]) {
      const job = this.jobs.get(parts[2]);
      if (!job) throw new HttpError(404, 'JOB_NOT_FOUND', `no job ${parts[2]}`);
      if (parts[3] === 'photos' && req.method === 'POST') {
        if (job.sealed) throw new HttpError(409, 'JOB_SEALED', 'the job is sealed');
        this.addItems(job, await body());
        return { status: 202, body: { jobId: job.id } };
      }
      if (parts[3] === 'seal' && req.method === 'POST') {
        job.sealed = true;
        return { status: 200, body: this.view(job) };
      }
      if (parts.length === 3 && req.method === 'GET') {
        this.settle(job);
        return { status: 200, body: this.view(job) };
      }
      if (parts[3] === 'results' && req.method === 'GET') {
        // As the real gateway: keys in the order they were added, only settled ones; the cursor
        // is the position after the last key looked at (unsettled ones are passed over).
        const after = Number(url.searchParams.get('cursor') ?? 0);
        const limit = Number(url.searchParams.get('limit') ?? 100);
        if (!Number.isInteger(after) || after < 0) throw new HttpError(400, 'INVALID_CURSOR', 'bad cursor');
        const all = [...job.items.values()];
        const items = [];
        let i = after;
        for (; i < all.length && items.length < limit; i++) if (all[i].result) items.push(all[i].result);
        return { status: 200, body: { items, next: i < all.length ? String(i) : undefined } };
      }
    }
    throw new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`);
  }

  private checkName(name: string): void {
    if (!/^[a-z0-9_-]{1,64}$/.test(name)) throw new HttpError(400, 'VALIDATION_FAILED', 'name: must match ^[a-z0-9_-]{1,64}$');
  }

  private addItems(job: FakeJob, b: Record<string, unknown> | { fields: Record<string, string>; files: { name: string; bytes: Buffer }[] }): void {
    const items: Item[] = [];
    if ('files' in b && Array.isArray(b.files)) {
      for (const f of b.files as { name: string; bytes: Buffer }[]) {
        if (this.opts.maxPhotoBytes !== undefined && f.bytes.length > this.opts.maxPhotoBytes) throw new HttpError(413, 'PHOTO_TOO_LARGE', 'A photo is too large');
        items.push({ key: f.name, bytes: f.bytes });
      }
    } else {
      for (const it of (b as { items: { key: string; path: string }[] }).items) {
        const roots = this.opts.pathRoots ?? [];
        if (!roots.some((r) => it.path.startsWith(r + path.sep))) throw new HttpError(400, 'PATH_NOT_ALLOWED', `${it.path} is outside FACEPIPE_PATH_ROOTS`);
        items.push({ key: it.key, path: it.path });
      }
    }
    if (items.length > 10_000) throw new HttpError(400, 'TOO_MANY_ITEMS', 'at most 10000');
    for (const it of items) job.items.set(it.key, it);
  }

  private settle(job: FakeJob): void {
    let n = this.opts.settlePerPoll ?? Infinity;
    for (const item of job.items.values()) {
      if (item.result || this.opts.hold?.has(item.key)) continue;
      if (n-- <= 0 || this.settled >= (this.opts.settleLimit ?? Infinity)) break;
      this.settled++;
      let bytes = item.bytes;
      try {
        bytes ??= readFileSync(item.path!);
      } catch {
        item.result = { key: item.key, status: 'failed', faces: [], error: { code: 'PATH_NOT_FOUND', message: 'no such file' } };
      }
      if (!item.result) {
        const image = bytes!.subarray(0, 3).equals(JPEG) || bytes!.subarray(0, 4).equals(PNG);
        item.result = image
          ? { key: item.key, status: 'done', faces: [{ faceId: `f-${item.key}`, box: [1, 2, 3, 4], score: 0.9, quality: 0.5, personId: 'p1' }] }
          : { key: item.key, status: 'failed', faces: [], error: { code: 'UNSUPPORTED_IMAGE_FORMAT', message: 'not a photo' } };
        if (image) {
          const c = this.collections.get(job.collection)!;
          c.photos++;
          c.faces++;
          c.people = 1;
        }
      }
    }
  }

  private view(job: FakeJob) {
    const results = [...job.items.values()].map((i) => i.result).filter((r) => r !== undefined);
    const done = results.filter((r) => r.status === 'done').length;
    const settled = results.length;
    const state = settled === 0 ? 'queued' : job.sealed && settled === job.items.size ? 'completed' : 'running';
    return {
      id: job.id,
      collection: job.collection,
      state,
      sealed: job.sealed,
      total: job.items.size,
      done,
      failed: settled - done,
      faces: results.reduce((n, r) => n + r.faces.length, 0),
      createdAt: job.createdAt,
      ...(state === 'completed' ? { finishedAt: new Date().toISOString() } : {}),
    };
  }
}
