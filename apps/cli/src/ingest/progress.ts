/** Something progress can be written to: process.stdout, or a test's collector. */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressSnapshot {
  /** Photos settled (done + failed) out of `total`. */
  settled: number;
  total: number;
  failed: number;
  /** Photos sent to the server so far, while sending. */
  sent?: number;
  /** Photos per second, when known. */
  rate?: number;
  /** The job waits for workers (nothing running yet). */
  queued?: boolean;
}

export const formatCount = (n: number): string => Math.round(n).toLocaleString('en-US');

/** "1 photo", "1,234 photos". */
export const plural = (n: number, one: string, many = one + 's'): string => `${formatCount(n)} ${n === 1 ? one : many}`;

/** 42s, 3m05s, 1h02m, 3d04h; "--" when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const pad = (v: number) => String(v).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor((s % 86400) / 3600))}h`;
}

/** 0.4, 12.3, 157 (photos per second); "--" when unknown. */
export function formatRate(rate: number | undefined): string {
  if (rate === undefined || !Number.isFinite(rate) || rate < 0) return '--';
  return rate < 100 ? rate.toFixed(1) : formatCount(rate);
}

/** Seconds left at `rate` photos/s, undefined when there is no rate yet. */
export function eta(remaining: number, rate: number | undefined): number | undefined {
  if (remaining <= 0) return 0;
  if (rate === undefined || !(rate > 0)) return undefined;
  return remaining / rate;
}

export function renderBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/**
 * Photos per second over a sliding window (default 20 s) of (time, settled) samples: recent
 * enough to follow a changing speed, long enough not to jump at every poll.
 */
export class RateMeter {
  private readonly samples: { t: number; n: number }[] = [];

  constructor(private readonly windowMs = 20_000) {}

  add(tMs: number, settled: number): void {
    this.samples.push({ t: tMs, n: settled });
    // Keep one sample at or before the window's start as the base.
    while (this.samples.length > 2 && this.samples[1].t <= tMs - this.windowMs) this.samples.shift();
  }

  /** Undefined until a second of data is in. */
  rate(): number | undefined {
    if (this.samples.length < 2) return undefined;
    const a = this.samples[0], b = this.samples[this.samples.length - 1];
    const dt = (b.t - a.t) / 1000;
    return dt >= 1 ? Math.max(0, b.n - a.n) / dt : undefined;
  }
}

/** The single, rewritten progress line of a terminal. */
export function ttyLine(p: ProgressSnapshot, columns = 80): string {
  const fraction = p.total > 0 ? p.settled / p.total : 1;
  const parts = [
    `${formatCount(p.settled)}/${formatCount(p.total)} photos`,
    p.queued && p.settled === 0 ? 'waiting for workers' : `${formatRate(p.rate)} photos/s`,
    `ETA ${formatDuration(eta(p.total - p.settled, p.rate))}`,
  ];
  if (p.failed > 0) parts.push(`${formatCount(p.failed)} failed`);
  if (p.sent !== undefined && p.sent < p.total) parts.push(`sending ${formatCount(p.sent)}/${formatCount(p.total)}`);
  const text = parts.join(' · ');
  const barWidth = Math.max(10, Math.min(30, columns - text.length - 8));
  const line = `${renderBar(fraction, barWidth)} ${String(Math.floor(fraction * 100)).padStart(3)}% ${text}`;
  return line.length > columns - 1 ? line.slice(0, columns - 2) + '…' : line;
}

/** A line of the log written instead when stdout is not a terminal. */
export function plainLine(p: ProgressSnapshot): string {
  const pct = p.total > 0 ? ((100 * p.settled) / p.total).toFixed(1) : '100.0';
  let line = `progress: ${formatCount(p.settled)}/${formatCount(p.total)} photos (${pct}%), ${formatRate(p.rate)} photos/s, ETA ${formatDuration(eta(p.total - p.settled, p.rate))}, ${formatCount(p.failed)} failed`;
  if (p.sent !== undefined && p.sent < p.total) line += `, ${formatCount(p.sent)} sent`;
  return line;
}

/**
 * Shows progress: on a terminal one line rewritten in place, otherwise a plain line every
 * `plainEveryMs` (5 s). Other messages go through `note`, which keeps the line intact.
 */
export class ProgressReporter {
  private drawn = '';
  private lastPlain = -Infinity;
  private last?: ProgressSnapshot;
  private lastPrinted?: ProgressSnapshot;

  constructor(
    private readonly out: Output,
    private readonly plainEveryMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  get tty(): boolean {
    return this.out.isTTY === true;
  }

  update(p: ProgressSnapshot): void {
    this.last = p;
    if (this.tty) {
      this.drawn = ttyLine(p, this.out.columns || 80);
      this.out.write(`\r\x1b[K${this.drawn}`);
    } else if (this.now() - this.lastPlain >= this.plainEveryMs) {
      this.lastPlain = this.now();
      this.lastPrinted = p;
      this.out.write(plainLine(p) + '\n');
    }
  }

  /** Writes a message line (to `to`, default the progress output) without garbling the bar. */
  note(text: string, to: Output = this.out): void {
    if (this.tty && this.drawn) this.out.write('\r\x1b[K');
    to.write(text.endsWith('\n') ? text : text + '\n');
    if (this.tty && this.drawn) this.out.write(this.drawn);
  }

  /** Leaves the last state on screen (terminal) or logs it (plain), then stops drawing. */
  end(): void {
    if (this.tty && this.drawn) this.out.write('\n');
    else if (!this.tty && this.last && this.last !== this.lastPrinted) this.out.write(plainLine(this.last) + '\n');
    this.drawn = '';
    this.last = undefined;
  }
}
