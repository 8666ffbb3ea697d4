import { eta, formatDuration, formatRate, plainLine, ProgressReporter, RateMeter, renderBar, ttyLine } from './progress';

describe('formatting', () => {
  it('durations', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(59.6)).toBe('1m00s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
    expect(formatDuration(2 * 86400 + 3 * 3600)).toBe('2d03h');
    expect(formatDuration(undefined)).toBe('--');
    expect(formatDuration(Infinity)).toBe('--');
  });

  it('rates', () => {
    expect(formatRate(0.44)).toBe('0.4');
    expect(formatRate(12.34)).toBe('12.3');
    expect(formatRate(1234.5)).toBe('1,235');
    expect(formatRate(undefined)).toBe('--');
  });

  it('ETA from remaining photos and rate', () => {
    expect(eta(100, 10)).toBe(10);
    expect(eta(0, undefined)).toBe(0);
    expect(eta(100, undefined)).toBeUndefined();
    expect(eta(100, 0)).toBeUndefined();
  });

  it('bars', () => {
    expect(renderBar(0.5, 10)).toBe('█████░░░░░');
    expect(renderBar(0, 4)).toBe('░░░░');
    expect(renderBar(2, 4)).toBe('████');
    expect(renderBar(NaN, 4)).toBe('░░░░');
  });

  it('the terminal line: bar, done/total, photos/s, ETA, failures; fits the width', () => {
    const line = ttyLine({ settled: 250, total: 1000, failed: 3, rate: 12.5 }, 100);
    expect(line).toMatch(/^[█░]+ {2}25% 250\/1,000 photos · 12\.5 photos\/s · ETA 1m00s · 3 failed$/);
    expect(line.length).toBeLessThan(100);
    expect(ttyLine({ settled: 0, total: 10, failed: 0, queued: true })).toContain('waiting for workers');
    expect(ttyLine({ settled: 1, total: 10, failed: 0, sent: 4 })).toContain('sending 4/10');
    expect(ttyLine({ settled: 250, total: 1000, failed: 3, rate: 12.5 }, 40).length).toBeLessThanOrEqual(39);
  });

  it('the plain line', () => {
    expect(plainLine({ settled: 250, total: 1000, failed: 0, rate: 5 })).toBe('progress: 250/1,000 photos (25.0%), 5.0 photos/s, ETA 2m30s, 0 failed');
    expect(plainLine({ settled: 0, total: 10, failed: 0, sent: 5 })).toBe('progress: 0/10 photos (0.0%), -- photos/s, ETA --, 0 failed, 5 sent');
  });
});

describe('RateMeter', () => {
  it('is unknown until a second has passed, then photos per second over the window', () => {
    const m = new RateMeter(10_000);
    m.add(0, 0);
    expect(m.rate()).toBeUndefined();
    m.add(500, 10);
    expect(m.rate()).toBeUndefined();
    m.add(2000, 40);
    expect(m.rate()).toBe(20);
  });

  it('follows a change of speed: old samples leave the window', () => {
    const m = new RateMeter(10_000);
    for (let t = 0; t <= 20; t++) m.add(t * 1000, t * 100); // 100/s for 20 s
    for (let t = 21; t <= 40; t++) m.add(t * 1000, 2000 + (t - 20) * 10); // then 10/s
    expect(m.rate()).toBeCloseTo(10, 5);
  });
});

describe('ProgressReporter', () => {
  const sink = (isTTY: boolean) => {
    const out = { text: '', isTTY, columns: 120, write: (s: string) => ((out.text += s), true) };
    return out;
  };

  it('on a terminal rewrites one line and keeps it intact around notes', () => {
    const out = sink(true);
    const r = new ProgressReporter(out);
    r.update({ settled: 1, total: 4, failed: 0 });
    r.update({ settled: 2, total: 4, failed: 0 });
    r.note('hello');
    r.end();
    expect(out.text.split('\r\x1b[K')).toHaveLength(4);
    expect(out.text).toContain('\r\x1b[Khello\n');
    expect(out.text.endsWith('2/4 photos · -- photos/s · ETA --\n')).toBe(true);
  });

  it('elsewhere writes a plain line every 5 s and the last state at the end', () => {
    const out = sink(false);
    let now = 0;
    const r = new ProgressReporter(out, 5000, () => now);
    r.update({ settled: 0, total: 4, failed: 0 });
    now = 1000;
    r.update({ settled: 1, total: 4, failed: 0 });
    now = 5000;
    r.update({ settled: 2, total: 4, failed: 0 });
    now = 6000;
    r.update({ settled: 4, total: 4, failed: 1 });
    r.end();
    const lines = out.text.trim().split('\n');
    expect(lines.map((l) => l.split(' photos')[0])).toEqual(['progress: 0/4', 'progress: 2/4', 'progress: 4/4']);
    expect(out.text).not.toContain('\r');
  });
});
