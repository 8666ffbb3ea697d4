import { createHash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * `$XDG_STATE_HOME/facepipe/ingest-<hash>.jsonl` (XDG_STATE_HOME defaulting to ~/.local/state),
 * one file per (server, collection, real path of the folder).
 */
export function defaultStateFile(server: string, collection: string, realDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.local', 'state');
  const hash = createHash('sha256').update(`${server}|${collection}|${realDir}`).digest('hex').slice(0, 16);
  return path.join(base, 'facepipe', `ingest-${hash}.jsonl`);
}

/** A line of the state file: a photo that finished `done` in a collection, */
interface DoneLine {
  key: string;
  status: 'done';
  at?: string;
}

/** or a batch job this folder's photos went to, and later that its results were all read, */
interface JobLine {
  job: string;
  finished?: true;
  at?: string;
}

/** or the creation time of the collection the done photos are in (a re-created one has another). */
interface CollectionLine {
  collectionCreatedAt: string;
}

/** The first line: what the file is about. A file with another header belongs to another ingest. */
export interface StateHeader {
  server: string;
  collection: string;
  dir: string;
}

/** The header's fields that must match, with how to name them when they don't. */
const HEADER_FIELDS: [keyof StateHeader, string][] = [
  ['collection', 'collection'],
  ['dir', 'folder'],
  ['server', 'server'],
];

/** The state file cannot be used (not a state file, another ingest's, not writable): nothing was sent. */
export class StateFileError extends Error {}

/**
 * The ingest state file: JSON lines, one per photo key that finished `done`, plus one per batch job
 * created (and one more once its results were all read). Appends go straight to the file
 * descriptor and are fsync'd, so a run that is interrupted (Ctrl-C, kill, crash) keeps every line
 * it wrote. Failed photos are never recorded, so a rerun retries them; a job never marked finished
 * is one a rerun catches up with (it may have finished photos after its run stopped). Lines that do
 * not parse (the half-written last line of a killed run) are ignored.
 */
export class StateFile {
  private constructor(
    readonly file: string,
    private readonly fd: number,
    private readonly header: StateHeader,
    private done: Set<string>,
    private jobs: Map<string, boolean>,
    private createdAt: string | undefined,
  ) {}

  /**
   * Opens (creating folders and file as needed) and loads what was recorded so far. Throws
   * StateFileError when the file is not a regular file, not a state file, or the state of another
   * collection, folder or server: its done photos say nothing about this ingest.
   */
  static open(file: string, header: StateHeader): StateFile {
    mkdirSync(path.dirname(file), { recursive: true });
    let fd: number;
    try {
      fd = openSync(file, 'a+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') throw new StateFileError('not a regular file (a folder)');
      throw err;
    }
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) throw new StateFileError('not a regular file');
      const text = stats.size > 0 ? readFileSync(fd, 'utf8') : '';
      if (text.length > 0) checkHeader(text, header);
      const { done, jobs, collectionCreatedAt } = parseStateFile(text);
      const state = new StateFile(file, fd, header, done, jobs, collectionCreatedAt);
      if (text.length > 0 && !text.endsWith('\n')) state.append('\n'); // after a torn last line
      if (text.length === 0) state.writeHeader();
      return state;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** When the collection of the recorded photos was created (the server's `createdAt`), if known. */
  get collectionCreatedAt(): string | undefined {
    return this.createdAt;
  }

  /** The recorded photos are in the collection created at `createdAt`. */
  recordCollection(createdAt: string): void {
    if (this.createdAt === createdAt) return;
    this.createdAt = createdAt;
    this.append(JSON.stringify({ collectionCreatedAt: createdAt } satisfies CollectionLine) + '\n');
  }

  /** Forgets everything recorded (the collection they were in is gone): the file holds its header only. */
  reset(): void {
    ftruncateSync(this.fd, 0);
    this.done = new Set();
    this.jobs = new Map();
    this.createdAt = undefined;
    this.writeHeader();
  }

  get doneCount(): number {
    return this.done.size;
  }

  isDone(key: string): boolean {
    return this.done.has(key);
  }

  /** Jobs of earlier runs whose results were never all read, oldest first. */
  unfinishedJobs(): string[] {
    return [...this.jobs].filter(([, finished]) => !finished).map(([id]) => id);
  }

  /** Records keys as done (those not recorded yet); returns how many were new. */
  recordDone(keys: Iterable<string>): number {
    const at = new Date().toISOString();
    let text = '';
    let added = 0;
    for (const key of keys) {
      if (this.done.has(key)) continue;
      this.done.add(key);
      text += JSON.stringify({ key, status: 'done', at } satisfies DoneLine) + '\n';
      added++;
    }
    if (added > 0) this.append(text);
    return added;
  }

  /** A job was created for this folder's photos. */
  recordJob(id: string): void {
    if (this.jobs.has(id)) return;
    this.jobs.set(id, false);
    this.append(JSON.stringify({ job: id, at: new Date().toISOString() } satisfies JobLine) + '\n');
  }

  /** Every result of the job is read and recorded: a rerun need not look at it again. */
  recordJobFinished(id: string): void {
    if (this.jobs.get(id) === true) return;
    this.jobs.set(id, true);
    this.append(JSON.stringify({ job: id, finished: true, at: new Date().toISOString() } satisfies JobLine) + '\n');
  }

  close(): void {
    closeSync(this.fd);
  }

  private writeHeader(): void {
    this.append(JSON.stringify({ facepipeIngest: 1, ...this.header }) + '\n');
  }

  private append(text: string): void {
    writeSync(this.fd, text);
    fsyncSync(this.fd);
  }
}

function checkHeader(text: string, expected: StateHeader): void {
  let header: Partial<StateHeader> & { facepipeIngest?: unknown };
  try {
    header = JSON.parse(text.slice(0, text.indexOf('\n') + 1 || undefined)) as typeof header;
  } catch {
    header = {};
  }
  if (header?.facepipeIngest !== 1) throw new StateFileError('not a facepipe ingest state file (it does not start with one\'s header line)');
  for (const [field, name] of HEADER_FIELDS) {
    if (header[field] !== expected[field]) {
      throw new StateFileError(
        `it holds the state of an ingest of ${name} ${JSON.stringify(header[field])}, not ${JSON.stringify(expected[field])}: ` +
          'pass another --state (one per collection and folder), or delete the file to start over',
      );
    }
  }
}

/** The done keys of a state file's text. */
export function parseState(text: string): Set<string> {
  return parseStateFile(text).done;
}

/** The done keys, the jobs (id → results all read) and the collection's creation time of a state file's text. */
export function parseStateFile(text: string): { done: Set<string>; jobs: Map<string, boolean>; collectionCreatedAt?: string } {
  const done = new Set<string>();
  const jobs = new Map<string, boolean>();
  let collectionCreatedAt: string | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as Partial<DoneLine & JobLine & CollectionLine>;
      if (typeof v.key === 'string' && v.status === 'done') done.add(v.key);
      else if (typeof v.job === 'string') jobs.set(v.job, v.finished === true || jobs.get(v.job) === true);
      else if (typeof v.collectionCreatedAt === 'string') collectionCreatedAt = v.collectionCreatedAt;
    } catch {
      // a torn or foreign line: ignore it
    }
  }
  return { done, jobs, collectionCreatedAt };
}
