import { createLogger } from './logger';
import { PipelineError } from './pipeline-error';

describe('createLogger', () => {
  it('writes one JSON object per line with time, level, stage, msg and fields', () => {
    const lines: string[] = [];
    const log = createLogger('matcher', { write: (l: string) => lines.push(l) });
    log.info('hello', { jobId: '42' });
    log.warn('careful');
    log.error('failed', { error: new PipelineError('URL_NOT_ALLOWED', 'private address') });
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    const [a, b, c] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(a).toEqual({ time: expect.any(String), level: 'info', stage: 'matcher', msg: 'hello', jobId: '42' });
    expect(Date.parse(a.time as string)).not.toBeNaN();
    expect(b).toMatchObject({ level: 'warn', msg: 'careful' });
    expect(c.error).toMatchObject({ name: 'PipelineError', message: 'private address', code: 'URL_NOT_ALLOWED' });
  });
});
