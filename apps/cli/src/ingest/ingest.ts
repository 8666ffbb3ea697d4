import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { resumeCommand, type IngestOptions } from './args';
import { PATH_CHUNK_ITEMS, UPLOAD_CHUNK_BYTES, UPLOAD_CHUNK_FILES, uploadChunks } from './chunk';
import { ApiError, GatewayClient, sleep, UnreachableError, type CollectionView, type JobView, type PhotoResult, type SubmitOptions, type SubmitTarget, type UploadFile } from './client';
import { formatCount, plural, ProgressReporter, RateMeter, type Output, type ProgressSnapshot } from './progress';
import { defaultStateFile, StateFile, StateFileError } from './state';
import { FailureTally, formatSummary } from './summary';
import { walkPhotos, type Photo } from './walk';

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

export interface IngestIO {
  stdout: Output;
  stderr: Output;
  /** Aborted on Ctrl-C / SIGTERM: stop, keep the state file, say how to resume. */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** How often the job is polled (1 s). */
  pollMs?: number;
  /** How often a plain progress line is written when stdout is not a terminal (5 s). */
  plainEveryMs?: number;
  /** How often finished photos are read back and recorded while the job runs (5 s). */
  resultsEveryMs?: number;
  /** Waits between retries of transient HTTP failures. */
  retryDelaysMs?: number[];
  /** Chunk and page sizes, how often a running job's results are read from the start (tests make them small). */
  limits?: { pathItems?: number; uploadFiles?: number; uploadBytes?: number; resultsPage?: number; fullReadEveryMs?: number };
}

/** Results per page of GET /v1/jobs/{id}/results. */
const RESULTS_PAGE = 500;
/** Reads of a running job's results from the start, at most this often (see pollIfDue). */
const FULL_READ_EVERY_MS = 30_000;
/** How long an interrupted run may spend sealing its job and recording what finished. */
const WRAP_UP_MS = 10_000;

/** `facepipe ingest`: resolves to the exit status. */
export async function runIngest(opts: IngestOptions, io: IngestIO): Promise<number> {
  const fail = (line: string) => io.stderr.write(`facepipe: ${line}\n`);
  let realDir: string;
  try {
    realDir = await realpath(opts.dir);
    if (!(await stat(realDir)).isDirectory()) return fail(`ingest: ${opts.dir} is not a folder`), EXIT.usage;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return fail(`ingest: ${opts.dir}: ${e.code === 'ENOENT' ? 'no such folder' : e.message}`), EXIT.usage;
  }
  let walk;
  try {
    walk = await walkPhotos(realDir);
  } catch (err) {
    return fail(`ingest: cannot read ${opts.dir}: ${(err as Error).message}`), EXIT.failed;
  }
  for (const w of walk.warnings) io.stderr.write(`facepipe: warning: ${w}\n`);

  const stateFile = opts.stateFile ? path.resolve(opts.stateFile) : defaultStateFile(opts.server, opts.collection, realDir, io.env);
  let state: StateFile;
  try {
    state = StateFile.open(stateFile, { server: opts.server, collection: opts.collection, dir: realDir });
  } catch (err) {
    return fail(`ingest: cannot use the state file ${stateFile}: ${(err as Error).message}`), err instanceof StateFileError ? EXIT.usage : EXIT.failed;
  }
  try {
    return await new Ingest(opts, io, walk.photos, state).run();
  } finally {
    state.close();
  }
}

/** A usage problem the server found (e.g. an invalid collection name): exit 2. */
class ServerUsageError extends Error {}
class Interrupted extends Error {}

interface TrackedJob {
  id: string;
  sealed: boolean;
  view?: JobView;
  /** Where the incremental results read resumes: the start of the last page read. */
  cursor?: string;
  /** Keys of this job read back so far. */
  seen: Set<string>;
  /** When the last read from the start was. */
  lastFullRead: number;
}

class Ingest {
  private client: GatewayClient;
  private readonly progress: ProgressReporter;
  private rate = new RateMeter();
  private pending: Photo[] = [];
  private pendingKeys = new Set<string>();
  private skipped = 0;
  private mode: 'path' | 'upload';
  private readonly jobs: TrackedJob[] = [];
  /** The photos being sent: how many, and where their jobs and local failures start in the lists. */
  private round = { photos: 0, firstJob: 0, localFailures: 0 };
  /** The job that takes more photos; undefined before the first chunk. */
  private openJob?: TrackedJob;
  private sent = 0;
  private sending = true;
  /** Photos that never reached the server (unreadable, refused alone); never recorded as done. */
  private readonly localFailures: { key: string; code: string }[] = [];
  /** Results read back so far, per key of this run (compact: an archive may be large). */
  private readonly outcomes = new Map<string, { done: boolean; faces: number; code?: string }>();
  private readonly unmatched = new Set<string>();
  private recordedNow = 0;
  /** The earlier run's job that catchUp is waiting for, if it is. */
  private awaitedJob?: string;
  private lastPoll = 0;
  private lastResults = 0;

  constructor(
    private readonly opts: IngestOptions,
    private readonly io: IngestIO,
    private readonly photos: Photo[],
    private readonly state: StateFile,
  ) {
    this.client = this.newClient(io.signal);
    this.progress = new ProgressReporter(io.stdout, io.plainEveryMs ?? 5000);
    this.mode = opts.mode === 'upload' ? 'upload' : 'path';
  }

  async run(): Promise<number> {
    const { opts } = this;
    if (this.photos.length === 0) {
      this.info(`no photos in ${opts.dir} (looked for .jpg .jpeg .png .webp .avif .tif .tiff .gif, hidden files and folders skipped)`);
      return EXIT.ok;
    }
    this.info(`${plural(this.photos.length, 'photo')} in ${opts.dir}`);
    try {
      const collection = await this.ensureCollection();
      let caughtUp = false;
      if (this.findPending() > 0) {
        // Photos an interrupted run had sent may have finished since: record them, send the rest.
        caughtUp = this.state.unfinishedJobs().length > 0 && (await this.catchUp()) > 0;
        if (caughtUp) this.findPending();
      }
      if (this.skipped > 0) this.info(`skipping ${formatCount(this.skipped)} already done (state file ${this.state.file})`);
      if (this.pending.length === 0) {
        this.info('nothing to send');
        // The count read at the start predates the earlier run's photos caught up above.
        const people = caughtUp ? await this.people().catch(() => collection?.people) : collection?.people;
        this.io.stdout.write(formatSummary(this.summaryInput(people)));
        return EXIT.ok;
      }
      this.info(`sending ${plural(this.pending.length, 'photo')} to collection "${opts.collection}" at ${this.client.server}`);
      await this.sendAndFinish(this.pending);
      await this.uploadWhatThePathsMissed();
      const people = await this.people().catch(() => undefined);
      const summary = this.summaryInput(people);
      this.warnUnmatched();
      this.io.stdout.write(formatSummary(summary));
      // A job's state "failed" means that every photo of it failed: the summary says which and why.
      const jobFailed = this.jobs.some((j) => j.view?.state === 'failed');
      return summary.failed > 0 || jobFailed ? EXIT.failed : EXIT.ok;
    } catch (err) {
      if (this.io.signal?.aborted || err instanceof Interrupted) return this.interrupted();
      this.progress.end();
      if (err instanceof ServerUsageError) {
        this.io.stderr.write(`facepipe: ingest: ${err.message}\n`);
        return EXIT.usage;
      }
      if (err instanceof UnreachableError) {
        this.io.stderr.write(
          `facepipe: cannot reach the facepipe server at ${err.server} (${err.reason}); start it with \`npm start\`, or point --server / FACEPIPE_SERVER at it\n`,
        );
      } else if (err instanceof ApiError) {
        this.io.stderr.write(`facepipe: ${this.client.server} answered ${err.status} ${err.code}: ${err.message}${authHint(err)}\n`);
      } else {
        throw err;
      }
      if (this.jobs.length > 0) this.io.stderr.write(this.resumeHint());
      return EXIT.failed;
    }
  }

  // --- collection ---------------------------------------------------------------------------

  /**
   * Creates the collection when it does not exist, and makes sure the photos the state file holds
   * as done are in it: a collection deleted since (and perhaps created again, empty) has lost
   * them, so the state is forgotten and every photo is sent again. Returns the collection as read.
   */
  private async ensureCollection(): Promise<CollectionView | null> {
    const name = this.opts.collection;
    let view: CollectionView | null;
    let created = false;
    try {
      view = await this.client.getCollection(name);
      if (!view) {
        created = (await this.client.createCollection(name)) === 'created';
        if (created) this.info(`collection "${name}" did not exist; created it`);
        view = await this.client.getCollection(name);
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) throw new ServerUsageError(`collection "${name}": ${err.message}`);
      throw err;
    }
    const createdAt = view?.createdAt;
    const recorded = this.state.collectionCreatedAt;
    const hasState = this.state.doneCount > 0 || this.state.unfinishedJobs().length > 0;
    // No time recorded (a state file of an older CLI) or none given (an older server): only a
    // collection that had to be created tells.
    const replaced = created || (recorded !== undefined && createdAt !== undefined && recorded !== createdAt);
    if (replaced && hasState) {
      this.warn(`collection "${name}" was deleted${created ? '' : ' and created again'} since the state file was written; forgetting its state and sending every photo again`);
      this.state.reset();
    }
    if (createdAt !== undefined) this.state.recordCollection(createdAt);
    return view;
  }

  /** The photos not recorded as done yet; returns how many. */
  private findPending(): number {
    this.pending = this.photos.filter((p) => !this.state.isDone(p.key));
    this.pendingKeys = new Set(this.pending.map((p) => p.key));
    this.skipped = this.photos.length - this.pending.length;
    return this.pending.length;
  }

  /**
   * Catches up with the jobs of earlier runs that stopped before reading all their results (Ctrl-C,
   * kill, lost connection): the server went on with them. A job still running is waited for — its
   * photos are being processed, and sent again they would only fail with PHOTO_IN_PROGRESS — and
   * one never sealed (its run was killed) is sealed. Returns how many photos became done.
   */
  private async catchUp(): Promise<number> {
    let recorded = 0;
    for (const id of this.state.unfinishedJobs()) {
      let view: JobView;
      try {
        view = await this.client.job(id);
        if (!view.sealed) {
          await this.client.seal(id).catch((err: unknown) => {
            if (!(err instanceof ApiError && err.code === 'JOB_SEALED')) throw err;
          });
          view = await this.client.job(id);
        }
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          this.state.recordJobFinished(id); // expired on the server: nothing more to learn
          continue;
        }
        throw err;
      }
      if (!isFinal(view)) {
        this.info(`job ${id} of an earlier run is still running; waiting for it to finish (its photos are not sent again)`);
        const rate = new RateMeter();
        this.awaitedJob = id; // if interrupted meanwhile, what it has finished is recorded (interrupted())
        while (!isFinal(view)) {
          await sleep(this.io.pollMs ?? 1000, this.io.signal);
          this.checkAbort();
          view = await this.client.job(id);
          const settled = view.done + view.failed;
          rate.add(Date.now(), settled);
          this.progress.update({ settled, total: view.total, failed: view.failed, rate: rate.rate(), queued: view.state === 'queued' });
        }
        this.awaitedJob = undefined;
        this.progress.end();
      }
      recorded += await this.recordDoneOf(id);
      this.state.recordJobFinished(id);
    }
    if (recorded > 0) this.info(`${plural(recorded, 'photo')} finished by an earlier run's job after that run stopped; recorded as done`);
    this.recordedNow += recorded;
    return recorded;
  }

  /** Records the photos of job `id` that are done (all its result pages); returns how many were new. */
  private async recordDoneOf(id: string): Promise<number> {
    let recorded = 0;
    let cursor: string | undefined;
    do {
      const page = await this.client.results(id, cursor, this.io.limits?.resultsPage ?? RESULTS_PAGE);
      recorded += this.state.recordDone(page.items.filter((r) => r.status === 'done').map((r) => r.key));
      cursor = page.next === cursor ? undefined : page.next;
    } while (cursor !== undefined);
    return recorded;
  }

  private async people(): Promise<number | undefined> {
    return (await this.client.getCollection(this.opts.collection))?.people;
  }

  // --- sending ------------------------------------------------------------------------------

  /** Sends `photos` in a new job, waits for it to finish, and reads and records its results. */
  private async sendAndFinish(photos: Photo[]): Promise<void> {
    this.round = { photos: photos.length, firstJob: this.jobs.length, localFailures: this.localFailures.length };
    this.openJob = undefined;
    this.rate = new RateMeter();
    this.sending = true;
    this.sent = 0;
    await this.submitAll(photos);
    this.sending = false;
    await this.sealOpenJob();
    await this.waitForJobs();
    this.progress.end();
    for (const job of this.jobs.slice(this.round.firstJob)) {
      await this.readResults(job, true);
      this.state.recordJobFinished(job.id);
    }
  }

  /**
   * Auto mode: photos the server refused to read by path although their folder is under its
   * FACEPIPE_PATH_ROOTS (links that lead out of them) are uploaded in a second job, once the first
   * has finished, rather than failing on every rerun.
   */
  private async uploadWhatThePathsMissed(): Promise<void> {
    if (this.opts.mode !== 'auto' || this.mode !== 'path') return;
    const refused = this.pending.filter((p) => this.outcomes.get(p.key)?.code === 'PATH_NOT_ALLOWED');
    if (refused.length === 0) return;
    this.info(`the server may not read ${plural(refused.length, 'photo')} by path (links out of its FACEPIPE_PATH_ROOTS); uploading them instead`);
    this.mode = 'upload';
    for (const p of refused) this.outcomes.delete(p.key);
    await this.sendAndFinish(refused);
  }

  private async submitAll(photos: Photo[]): Promise<void> {
    const { pathItems = PATH_CHUNK_ITEMS, uploadFiles = UPLOAD_CHUNK_FILES, uploadBytes = UPLOAD_CHUNK_BYTES } = this.io.limits ?? {};
    let i = 0;
    while (i < photos.length) {
      this.checkAbort();
      if (this.mode === 'path') {
        const chunk = photos.slice(i, i + pathItems);
        if (!(await this.sendPaths(chunk))) continue; // switched to upload: send this chunk again, uploaded
        i += chunk.length;
      } else {
        const [chunk] = uploadChunks(photos.slice(i, i + uploadFiles), uploadFiles, uploadBytes);
        i += chunk.length;
        await this.sendFiles(await this.readFiles(chunk));
      }
      this.sent = i;
      await this.pollIfDue();
    }
  }

  /** False when the server may not read the folder and auto mode switched to uploads. */
  private async sendPaths(chunk: Photo[]): Promise<boolean> {
    // The folder as given (made absolute), not its real path: the gateway compares the path with
    // FACEPIPE_PATH_ROOTS as written before resolving links, so a root reached through a symlink
    // still matches. (Folders inside are never links: the walk does not follow them.)
    const base = path.resolve(this.opts.dir);
    const items = chunk.map((p) => ({ key: p.key, path: path.join(base, ...p.key.split('/')) }));
    try {
      await this.submit((target, o) => this.client.submitPaths(target, items, o));
      return true;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 400 && err.code === 'PATH_NOT_ALLOWED')) throw err;
      // The server says which list refused it: its FACEPIPE_PATH_ROOTS, or the API key's pathRoots.
      const where = /pathRoots/.test(err.message) ? "this API key's pathRoots (POST /v1/keys)" : 'its FACEPIPE_PATH_ROOTS';
      if (this.opts.mode !== 'auto') {
        throw new ApiError(400, err.code, `${err.message} (the server reads only folders listed in ${where}; add ${path.resolve(this.opts.dir)} there, or use --mode upload)`);
      }
      this.mode = 'upload';
      this.info(`the server may not read ${path.resolve(this.opts.dir)} (not under ${where}); uploading the photos instead`);
      return false;
    }
  }

  private async readFiles(chunk: Photo[]): Promise<UploadFile[]> {
    const files: UploadFile[] = [];
    for (const p of chunk) {
      try {
        files.push({ key: p.key, data: await readFile(p.file) });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        this.localFailures.push({ key: p.key, code: e.code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE' });
      }
    }
    return files;
  }

  /** Uploads files; a request the server finds too large is split, and a single file refused fails alone. */
  private async sendFiles(files: UploadFile[]): Promise<void> {
    if (files.length === 0) return;
    try {
      await this.submit((target, o) => this.client.submitUploads(target, files, o));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 413)) throw err;
      if (files.length === 1) {
        this.localFailures.push({ key: files[0].key, code: err.code });
        return;
      }
      const half = Math.ceil(files.length / 2);
      await this.sendFiles(files.slice(0, half));
      await this.sendFiles(files.slice(half));
    }
  }

  /** Sends to the open job, creating it (unsealed, with the webhook) on the first chunk. */
  private async submit(send: (target: SubmitTarget, o: SubmitOptions) => Promise<{ jobId: string }>): Promise<void> {
    if (!this.openJob) {
      const { jobId } = await send({ collection: this.opts.collection }, { webhook: this.opts.webhook, webhookSecret: this.opts.webhookSecret, seal: false });
      this.openJob = { id: jobId, sealed: false, seen: new Set(), lastFullRead: 0 };
      this.jobs.push(this.openJob);
      this.state.recordJob(jobId);
      if (this.jobs.length === 1) this.info(`job ${jobId}`);
      return;
    }
    try {
      await send({ jobId: this.openJob.id }, {});
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'JOB_SEALED')) throw err;
      // The server sealed the job although asked not to: carry on in another job.
      this.openJob.sealed = true;
      this.warn(`the server sealed job ${this.openJob.id} early; sending the rest in a new job`);
      this.openJob = undefined;
      await this.submit(send);
    }
  }

  private async sealOpenJob(): Promise<void> {
    const job = this.openJob;
    if (!job || job.sealed) return;
    try {
      await this.client.seal(job.id);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'JOB_SEALED')) throw err;
    }
    job.sealed = true;
  }

  // --- following the job --------------------------------------------------------------------

  private async waitForJobs(): Promise<void> {
    while (this.jobs.some((j) => !finished(j))) {
      await sleep(this.io.pollMs ?? 1000, this.io.signal);
      this.checkAbort();
      await this.pollIfDue(true);
    }
  }

  private async pollIfDue(force = false): Promise<void> {
    const now = Date.now();
    if (this.jobs.length > 0 && (force || now - this.lastPoll >= (this.io.pollMs ?? 1000))) {
      this.lastPoll = now;
      for (const job of this.jobs) if (!finished(job)) job.view = await this.client.job(job.id);
      this.progress.update(this.snapshot());
    }
    if (this.jobs.length > 0 && now - this.lastResults >= (this.io.resultsEveryMs ?? 5000)) {
      this.lastResults = now;
      for (const job of this.jobs) {
        if (finished(job) && job.seen.size >= job.view!.done + job.view!.failed) continue;
        await this.readResults(job, false);
        // Results come in key order and a page skips photos still in the works, so one that
        // finished late, behind the cursor, shows up only in a read from the start: do one now
        // and then (at most every FULL_READ_EVERY_MS) while the counts say something is missing.
        const settled = (job.view?.done ?? 0) + (job.view?.failed ?? 0);
        if (job.seen.size < settled && now - job.lastFullRead >= (this.io.limits?.fullReadEveryMs ?? FULL_READ_EVERY_MS)) await this.readResults(job, true);
      }
    }
  }

  /** The progress of the photos being sent now (a second round uploads what paths missed). */
  private snapshot(): ProgressSnapshot {
    const local = this.localFailures.length - this.round.localFailures;
    let settled = local, failed = local, queued = true;
    for (const { view } of this.jobs.slice(this.round.firstJob)) {
      settled += (view?.done ?? 0) + (view?.failed ?? 0);
      failed += view?.failed ?? 0;
      if (view && view.state !== 'queued') queued = false;
    }
    this.rate.add(Date.now(), settled);
    return { settled, total: this.round.photos, failed, sent: this.sending ? this.sent : undefined, rate: this.rate.rate(), queued };
  }

  /**
   * Reads the job's results and records the done keys in the state file. Incremental reads start
   * at the last page read before (re-reading it: it may have grown); `full` reads from the start.
   */
  private async readResults(job: TrackedJob, full: boolean): Promise<void> {
    if (full) job.lastFullRead = Date.now();
    let cursor = full ? undefined : job.cursor;
    for (;;) {
      let page;
      try {
        page = await this.client.results(job.id, cursor, this.io.limits?.resultsPage ?? RESULTS_PAGE);
      } catch (err) {
        if (err instanceof ApiError && err.status === 400 && cursor !== undefined) {
          cursor = job.cursor = undefined; // a cursor the server no longer takes: start over
          continue;
        }
        throw err;
      }
      this.absorb(job, page.items);
      if (page.next === undefined || page.next === cursor) break;
      cursor = page.next;
    }
    job.cursor = cursor;
  }

  private absorb(job: TrackedJob, items: PhotoResult[]): void {
    const done: string[] = [];
    for (const item of items) {
      job.seen.add(item.key);
      if (!this.pendingKeys.has(item.key)) {
        this.unmatched.add(item.key);
        continue;
      }
      this.outcomes.set(item.key, { done: item.status === 'done', faces: item.faces?.length ?? 0, code: item.error?.code });
      if (item.status === 'done') done.push(item.key);
    }
    this.recordedNow += this.state.recordDone(done);
  }

  // --- endings ------------------------------------------------------------------------------

  private summaryInput(people: number | undefined) {
    const failures = new FailureTally();
    let done = 0, faces = 0;
    for (const [key, r] of this.outcomes) {
      if (r.done) {
        done++;
        faces += r.faces;
      } else {
        failures.add(r.code ?? 'UNKNOWN_ERROR', key);
      }
    }
    for (const f of this.localFailures) failures.add(f.code, f.key);
    // Sent but never settled (the job failed, or results could not be read): retried on rerun.
    const local = new Set(this.localFailures.map((f) => f.key));
    if (!this.sending) {
      for (const p of this.pending) if (!this.outcomes.has(p.key) && !local.has(p.key)) failures.add('NOT_FINISHED', p.key);
    }
    return {
      collection: this.opts.collection,
      jobIds: this.jobs.map((j) => j.id),
      mode: this.jobs.length > 0 ? this.mode : undefined,
      done,
      failed: failures.total,
      skipped: this.skipped,
      faces,
      people,
      failures,
      stateFile: this.state.file,
    };
  }

  private warnUnmatched(): void {
    if (this.unmatched.size === 0) return;
    const [example] = this.unmatched;
    this.warn(
      `${plural(this.unmatched.size, 'result')} came back under keys this run did not send (e.g. ${JSON.stringify(example)}); ` +
        'they are not recorded in the state file. The gateway must keep the whole relative path of an uploaded file name as its key.',
    );
  }

  /** Ctrl-C: seal what was sent (so the job completes on the server), record what finished, say how to resume. */
  private async interrupted(): Promise<number> {
    this.progress.end();
    this.io.stderr.write('facepipe: interrupted; recording what finished…\n');
    this.client = this.newClient(AbortSignal.timeout(WRAP_UP_MS));
    let sealedWith = this.sent;
    try {
      if (this.awaitedJob) this.recordedNow += await this.recordDoneOf(this.awaitedJob);
      await this.sealOpenJob();
      // The server's count: a request cut off by the interrupt may have been taken whole.
      if (this.openJob) sealedWith = (await this.client.job(this.openJob.id)).total;
      for (const job of this.jobs) await this.readResults(job, true);
    } catch {
      // best effort: the state file already holds what was recorded before
    }
    const sent =
      this.jobs.length === 0
        ? ''
        : this.sending
          ? ` The job is sealed with the ${plural(sealedWith, 'photo')} sent so far; the server finishes them.`
          : ' The server finishes the job on its own.';
    this.io.stderr.write(
      `facepipe: stopped. ${plural(this.recordedNow, 'photo')} recorded as done in this run (${formatCount(this.state.doneCount)} in all) in ${this.state.file}.${sent}\n` +
        this.resumeHint(),
    );
    return EXIT.interrupted;
  }

  private resumeHint(): string {
    // A secret from the environment is not on the command line: without it, the next job's webhook would go unsigned.
    const fromEnv = this.opts.webhookSecret !== undefined && !this.opts.argv.some((a) => a === '--webhook-secret' || a.startsWith('--webhook-secret='));
    return `facepipe: to resume (skipping the photos already done), run: ${resumeCommand(this.opts.argv)}${fromEnv ? ' (with FACEPIPE_WEBHOOK_SECRET set, as now)' : ''}\n`;
  }

  // --- helpers ------------------------------------------------------------------------------

  private newClient(signal: AbortSignal | undefined): GatewayClient {
    return new GatewayClient({ server: this.opts.server, apiKey: this.opts.apiKey, signal, retryDelaysMs: this.io.retryDelaysMs });
  }

  private checkAbort(): void {
    if (this.io.signal?.aborted) throw new Interrupted();
  }

  private info(text: string): void {
    this.progress.note(text);
  }

  private warn(text: string): void {
    this.progress.note(`facepipe: warning: ${text}`, this.io.stderr);
  }
}

function finished(job: TrackedJob): boolean {
  return job.sealed && job.view !== undefined && isFinal(job.view);
}

function isFinal(view: JobView): boolean {
  return view.state === 'completed' || view.state === 'failed';
}

function authHint(err: ApiError): string {
  return err.status === 401 || err.status === 403 ? ' (set FACEPIPE_API_KEY or pass --api-key)' : '';
}
