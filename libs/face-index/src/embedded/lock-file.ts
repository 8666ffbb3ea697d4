/**
 * The exclusive lock on an index directory: a `LOCK` file naming its owner (pid, process start
 * time, host). The embedded index is owned by one process; a second one would corrupt the log.
 *
 * A lock whose owner is gone must not block forever (kill -9 leaves it behind), so the owner is
 * checked: a pid that no longer exists, or that now belongs to a process started at another time
 * (pid reuse), marks the lock stale and it is taken over. That includes a lock holding our own pid
 * with another start time: in a container the service is often pid 1 on every restart.
 *
 * The check works within one pid namespace (one host or one container). Two machines sharing the
 * directory over a network file system are not detected; do not do that.
 *
 * Creating the lock is atomic (a fully written temp file is hard-linked to `LOCK`, which fails if
 * it exists), so `LOCK` never holds a half-written owner.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FaceIndexError } from '../errors';
import { fsyncDir, isErrno } from './fs-util';

export interface LockOwner {
  pid: number;
  /** Process start time in clock ticks since boot (Linux), to tell a reused pid apart. */
  startTime?: number;
  hostname: string;
  /** Unique per acquisition, so a release never removes someone else's lock. */
  token: string;
  acquiredAt: string;
}

export class DirectoryLock {
  private constructor(
    readonly file: string,
    readonly owner: LockOwner,
  ) {}

  static acquire(dir: string): DirectoryLock {
    const file = path.join(dir, 'LOCK');
    const owner: LockOwner = {
      pid: process.pid,
      startTime: processStartTime(process.pid),
      hostname: os.hostname(),
      token: randomBytes(8).toString('hex'),
      acquiredAt: new Date().toISOString(),
    };
    const content = JSON.stringify(owner) + '\n';
    const tmp = `${file}.${owner.token}.tmp`;
    writeFileSync(tmp, content, { flush: true });
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          linkSync(tmp, file);
          fsyncDir(dir);
          return new DirectoryLock(file, owner);
        } catch (err) {
          if (!isErrno(err, 'EEXIST')) throw err;
        }
        const held = readOrNull(file);
        if (held === null) continue; // released meanwhile: try again
        const holder = parseOwner(held);
        if (holder && isAlive(holder)) {
          throw new FaceIndexError('INDEX_LOCKED', `${dir} is in use by process ${holder.pid} on ${holder.hostname} (since ${holder.acquiredAt})`);
        }
        takeOverStale(file, held);
      }
      throw new FaceIndexError('INDEX_LOCKED', `${dir}: could not take the lock (contended)`);
    } finally {
      unlinkQuiet(tmp);
    }
  }

  /** Removes the lock if it is still ours. */
  release(): void {
    const held = readOrNull(this.file);
    if (held !== null && parseOwner(held)?.token === this.owner.token) unlinkQuiet(this.file);
  }
}

/**
 * Moves a stale lock aside. Two processes may both judge it stale; the rename lets one of them win
 * for that inode, and the loser, finding that what it moved is not what it judged (the winner's
 * fresh lock), puts it back.
 */
function takeOverStale(file: string, judged: string): void {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, aside);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  const moved = readOrNull(aside);
  if (moved !== judged) {
    try {
      linkSync(aside, file);
    } catch {
      // Someone else holds the lock now either way; the next attempt will see it.
    }
  }
  unlinkQuiet(aside);
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as LockOwner;
    return Number.isInteger(o.pid) && o.pid > 0 && typeof o.token === 'string' ? o : null;
  } catch {
    return null; // unreadable: a lock nobody can own; stale
  }
}

function isAlive(owner: LockOwner): boolean {
  if (owner.pid === process.pid) {
    // Our pid: another open in this very process (same start time) or a previous incarnation.
    return owner.startTime === undefined || owner.startTime === processStartTime(process.pid);
  }
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if (isErrno(err, 'ESRCH')) return false;
    // EPERM: it exists but belongs to another user; treat as alive.
  }
  const stat = procStat(owner.pid);
  if (stat === undefined) return true; // no /proc: the pid exists, so assume it is the owner
  if (stat.state === 'Z') return false; // killed, not yet reaped by its parent
  return owner.startTime === undefined || stat.startTime === owner.startTime;
}

function processStartTime(pid: number): number | undefined {
  return procStat(pid)?.startTime;
}

/** State (field 3) and start time (field 22) from /proc/<pid>/stat (Linux); undefined elsewhere. */
function procStat(pid: number): { state: string; startTime: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTime = Number(fields[19]);
    return Number.isFinite(startTime) ? { state: fields[0], startTime } : undefined;
  } catch {
    return undefined;
  }
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

function unlinkQuiet(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
