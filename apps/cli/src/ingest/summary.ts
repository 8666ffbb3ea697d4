import { formatCount, plural } from './progress';

/** Failed photos grouped by error code, with the first few keys as examples. */
export class FailureTally {
  private readonly byCode = new Map<string, { count: number; examples: string[] }>();

  constructor(private readonly maxExamples = 3) {}

  add(code: string, key: string): void {
    const entry = this.byCode.get(code) ?? { count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < this.maxExamples) entry.examples.push(key);
    this.byCode.set(code, entry);
  }

  get total(): number {
    let n = 0;
    for (const e of this.byCode.values()) n += e.count;
    return n;
  }

  /** Most frequent code first. */
  entries(): { code: string; count: number; examples: string[] }[] {
    return [...this.byCode].map(([code, e]) => ({ code, ...e })).sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : 1));
  }
}

export interface SummaryInput {
  collection: string;
  jobIds: string[];
  mode?: 'path' | 'upload';
  done: number;
  failed: number;
  skipped: number;
  faces: number;
  /** People in the whole collection after the run; undefined when the server could not say. */
  people?: number;
  failures: FailureTally;
  stateFile: string;
}

export function formatSummary(s: SummaryInput): string {
  const head = [`collection "${s.collection}"`];
  if (s.jobIds.length > 0) head.push(`${s.jobIds.length === 1 ? 'job' : 'jobs'} ${s.jobIds.join(', ')}`);
  if (s.mode) head.push(`${s.mode} mode`);
  const lines = [
    `Summary (${head.join(', ')})`,
    `  photos    ${formatCount(s.done)} done, ${formatCount(s.failed)} failed, ${formatCount(s.skipped)} skipped (done in an earlier run)`,
    `  faces     ${plural(s.faces, 'face')} found in the photos done now`,
    `  people    ${s.people === undefined ? 'unknown (the server did not say)' : `${plural(s.people, 'person', 'people')} in the collection`}`,
  ];
  const failures = s.failures.entries();
  failures.forEach((f, i) => {
    const more = f.count > f.examples.length ? ', …' : '';
    lines.push(`  ${i === 0 ? 'failures' : '        '}  ${f.code} ×${formatCount(f.count)}: ${f.examples.join(', ')}${more}`);
  });
  lines.push(`  state     ${s.stateFile}`);
  return lines.join('\n') + '\n';
}
