/** What the CLI reads of the gateway's answers (see README, "HTTP API"). */
export interface CollectionView {
  name: string;
  /** Absent from servers older than this CLI. */
  createdAt?: string;
  photos: number;
  faces: number;
  people: number;
}

export type JobState = 'queued' | 'running' | 'completed' | 'failed';

export interface JobView {
  id: string;
  collection: string;
  state: JobState;
  sealed: boolean;
  total: number;
  done: number;
  failed: number;
  faces: number;
  createdAt: string;
  finishedAt?: string;
}

export interface PhotoResult {
  key: string;
  status: 'done' | 'failed';
  faces: unknown[];
  error?: { code: string; message: string };
}

export interface ResultsPage {
  items: PhotoResult[];
  next?: string;
}

/** A JSON error answer of the gateway: `{"error": {"code", "message"}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** No HTTP answer at all: refused, unknown host, reset, timed out. */
export class UnreachableError extends Error {
  constructor(
    readonly server: string,
    readonly reason: string,
  ) {
    super(`cannot reach the facepipe server at ${server} (${reason})`);
  }
}

/** Where a submission goes: a new job in a collection, or more photos for an open job. */
export type SubmitTarget = { collection: string } | { jobId: string };

export interface SubmitOptions {
  webhook?: string;
  /** Signs the webhook's deliveries (x-facepipe-signature). */
  webhookSecret?: string;
  /** Only for a new job: false keeps it open for more photos (POST /v1/jobs/{id}/photos). */
  seal?: boolean;
}

export interface UploadFile {
  key: string;
  data: Uint8Array;
}

export interface ClientOptions {
  server: string;
  apiKey?: string;
  /** Aborts every request in flight (Ctrl-C). */
  signal?: AbortSignal;
  /** Waits between retries of a transient failure, in ms (tests shorten them). */
  retryDelaysMs?: number[];
}

const JSON_TIMEOUT_MS = 60_000;
const UPLOAD_TIMEOUT_MS = 15 * 60_000;
/** Answers worth retrying an idempotent request after. */
const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);
/** Answers that say the request was not acted on: safe to retry even a job creation. */
const REFUSED_STATUS = new Set([429, 503]);

/** A small client of the facepipe HTTP gateway: fetch, JSON errors, retries of transient failures. */
export class GatewayClient {
  readonly server: string;
  private readonly retryDelaysMs: number[];
  /** Until the server first answers, a network error is reported at once rather than retried. */
  private answered = false;

  constructor(private readonly opts: ClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
    this.retryDelaysMs = opts.retryDelaysMs ?? [1000, 3000, 10000];
  }

  /** The collection, or null when the server answers 404. */
  async getCollection(name: string): Promise<CollectionView | null> {
    try {
      return await this.request<CollectionView>('GET', `/v1/collections/${encodeURIComponent(name)}`, { retry: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }

  /** Creates the collection; 'exists' when someone else just did (409). */
  async createCollection(name: string): Promise<'created' | 'exists'> {
    try {
      await this.request('POST', '/v1/collections', { json: { name } });
      return 'created';
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) return 'exists';
      throw err;
    }
  }

  /** Changes a collection's settings (`PATCH /v1/collections/{name}`); answers the collection. */
  updateCollection(name: string, changes: { threshold: number }): Promise<CollectionView & { threshold?: number }> {
    // The same body sent twice sets the same value: safe to retry.
    return this.request('PATCH', `/v1/collections/${encodeURIComponent(name)}`, { json: changes, retry: true });
  }

  /** Path mode: the server reads the files itself (they must be under its FACEPIPE_PATH_ROOTS). */
  submitPaths(target: SubmitTarget, items: { key: string; path: string }[], opts: SubmitOptions = {}): Promise<{ jobId: string }> {
    const json: Record<string, unknown> = { items };
    if ('collection' in target) {
      if (opts.webhook) json.webhook = { url: opts.webhook, ...(opts.webhookSecret ? { secret: opts.webhookSecret } : {}) };
      if (opts.seal !== undefined) json.seal = opts.seal;
    }
    return this.submit(target, { json });
  }

  /** Upload mode: multipart, the files in field `photos`, each named by its key. */
  submitUploads(target: SubmitTarget, files: UploadFile[], opts: SubmitOptions = {}): Promise<{ jobId: string }> {
    const form = (): FormData => {
      const f = new FormData();
      if ('collection' in target) {
        if (opts.webhook) f.append('webhookUrl', opts.webhook);
        if (opts.webhook && opts.webhookSecret) f.append('webhookSecret', opts.webhookSecret);
        if (opts.seal !== undefined) f.append('seal', String(opts.seal));
      }
      for (const { key, data } of files) f.append('photos', new Blob([data]), key);
      return f;
    };
    return this.submit(target, { form, timeoutMs: UPLOAD_TIMEOUT_MS });
  }

  async seal(jobId: string): Promise<void> {
    await this.request('POST', `/v1/jobs/${encodeURIComponent(jobId)}/seal`, { retry: true });
  }

  job(jobId: string): Promise<JobView> {
    return this.request<JobView>('GET', `/v1/jobs/${encodeURIComponent(jobId)}`, { retry: true });
  }

  results(jobId: string, cursor: string | undefined, limit: number): Promise<ResultsPage> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (cursor !== undefined) q.set('cursor', cursor);
    return this.request<ResultsPage>('GET', `/v1/jobs/${encodeURIComponent(jobId)}/results?${q}`, { retry: true });
  }

  private async submit(target: SubmitTarget, body: { json?: unknown; form?: () => FormData; timeoutMs?: number }): Promise<{ jobId: string }> {
    if ('collection' in target) {
      // Creating a job is not idempotent: retried only when the server said so (429/503), never
      // after a lost answer, which could leave a second job behind.
      const r = await this.request<{ jobId: string }>('POST', `/v1/collections/${encodeURIComponent(target.collection)}/photos`, { ...body, retry: 'status' });
      return { jobId: r.jobId };
    }
    // Adding photos to a job is idempotent per key: safe to retry.
    await this.request('POST', `/v1/jobs/${encodeURIComponent(target.jobId)}/photos`, { ...body, retry: true });
    return { jobId: target.jobId };
  }

  private async request<T = unknown>(
    method: string,
    path: string,
    o: { json?: unknown; form?: () => FormData; retry?: boolean | 'status'; timeoutMs?: number } = {},
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const retryable = o.retry && attempt < this.retryDelaysMs.length;
      let res: Response;
      try {
        const headers: Record<string, string> = { accept: 'application/json' };
        if (this.opts.apiKey) headers['x-api-key'] = this.opts.apiKey;
        let body: string | FormData | undefined;
        if (o.form) body = o.form();
        else if (o.json !== undefined) {
          headers['content-type'] = 'application/json';
          body = JSON.stringify(o.json);
        }
        const timeout = AbortSignal.timeout(o.timeoutMs ?? JSON_TIMEOUT_MS);
        const signal = this.opts.signal ? AbortSignal.any([this.opts.signal, timeout]) : timeout;
        res = await fetch(this.server + path, { method, headers, body, signal });
      } catch (err) {
        if (this.opts.signal?.aborted) throw err;
        const reason = networkReason(err);
        if (retryable && o.retry === true && this.answered) {
          await this.sleep(this.retryDelaysMs[attempt]);
          continue;
        }
        if (reason === null) throw err;
        throw new UnreachableError(this.server, reason);
      }
      this.answered = true;
      const text = await res.text().catch(() => '');
      if (res.ok) return (text ? JSON.parse(text) : {}) as T;
      if (retryable && (o.retry === true ? TRANSIENT_STATUS : REFUSED_STATUS).has(res.status)) {
        await this.sleep(retryAfterMs(res) ?? this.retryDelaysMs[attempt]);
        continue;
      }
      throw toApiError(res.status, text);
    }
  }

  private sleep(ms: number): Promise<void> {
    return sleep(ms, this.opts.signal);
  }
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function toApiError(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (body.error && typeof body.error.code === 'string') {
      return new ApiError(status, body.error.code, typeof body.error.message === 'string' ? body.error.message : body.error.code);
    }
  } catch {
    // not JSON: fall through
  }
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return new ApiError(status, `HTTP_${status}`, snippet ? `HTTP ${status}: ${snippet}` : `HTTP ${status}`);
}

function retryAfterMs(res: Response): number | undefined {
  const v = Number(res.headers.get('retry-after'));
  return Number.isFinite(v) && v > 0 ? Math.min(v, 60) * 1000 : undefined;
}

/** Why no HTTP answer came, or null when the error is not a network one. */
function networkReason(err: unknown): string | null {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'no answer in time';
  // By name, not instanceof: fetch's errors may come from another realm (Jest's vm contexts).
  if (e?.name === 'TypeError' && e.message === 'fetch failed') return e.cause?.code ?? e.cause?.message ?? 'network error';
  if (e?.name === 'TypeError' && /invalid url|failed to parse url/i.test(e.message ?? '')) return 'not a valid URL';
  return null;
}
