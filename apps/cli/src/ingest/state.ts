import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
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

/** or a batch job this folder's photos went to, and later that its results were all read. */
interface JobLine {
  job: string;
  finished?: true;
  at?: string;
}

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
    private readonly done: Set<string>,
    private readonly jobs: Map<string, boolean>,
  ) {}

  /** Opens (creating folders and file as needed) and loads what was recorded so far. */
  static open(file: string, header?: Record<string, unknown>): StateFile {
    mkdirSync(path.dirname(file), { recursive: true });
    const { done, jobs } = existsSync(file) ? parseStateFile(readFileSync(file, 'utf8')) : { done: new Set<string>(), jobs: new Map<string, boolean>() };
    const fd = openSync(file, 'a');
    const state = new StateFile(file, fd, done, jobs);
    const size = fstatSync(fd).size;
    if (size > 0 && !endsWithNewline(file, size)) writeSync(fd, '\n'); // after a torn last line
    if (size === 0 && header) writeSync(fd, JSON.stringify({ facepipeIngest: 1, ...header }) + '\n');
    return state;
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

  private append(text: string): void {
    writeSync(this.fd, text);
    fsyncSync(this.fd);
  }
}

/** The done keys of a state file's text. */
export function parseState(text: string): Set<string> {
  return parseStateFile(text).done;
}

/** The done keys and the jobs (id → results all read) of a state file's text. */
export function parseStateFile(text: string): { done: Set<string>; jobs: Map<string, boolean> } {
  const done = new Set<string>();
  const jobs = new Map<string, boolean>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as Partial<DoneLine & JobLine>;
      if (typeof v.key === 'string' && v.status === 'done') done.add(v.key);
      else if (typeof v.job === 'string') jobs.set(v.job, v.finished === true || jobs.get(v.job) === true);
    } catch {
      // a torn or foreign line: ignore it
    }
  }
  return { done, jobs };
}

function endsWithNewline(file: string, size: number): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, size - 1);
    return b[0] === 0x0a;
  } finally {
    closeSync(fd);
  }
}
