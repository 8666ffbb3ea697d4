import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isPhotoName, isValidKey, walkPhotos } from './walk';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'facepipe-walk-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function touch(rel: string, content = 'x'): string {
  const file = path.join(tmp, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

describe('isPhotoName', () => {
  it('takes the photo extensions in any case, nothing else, no hidden files', () => {
    for (const n of ['a.jpg', 'a.JPG', 'b.jpeg', 'c.Png', 'd.webp', 'e.avif', 'f.tif', 'g.TIFF', 'h.gif']) expect(isPhotoName(n)).toBe(true);
    for (const n of ['a.txt', 'a.heic', 'a.svg', 'jpg', 'a.jpg.bak', '.hidden.jpg']) expect(isPhotoName(n)).toBe(false);
  });
});

describe('isValidKey', () => {
  it('refuses empty, over-long and control-character keys', () => {
    expect(isValidKey('a/b.jpg')).toBe(true);
    expect(isValidKey('é'.repeat(512))).toBe(true);
    expect(isValidKey('')).toBe(false);
    expect(isValidKey('a\u0085b.jpg')).toBe(false); // a C1 control
    expect(isValidKey('a\u00a0b.jpg')).toBe(true);
    expect(isValidKey('a'.repeat(513))).toBe(false);
    expect(isValidKey('a\nb.jpg')).toBe(false);
    expect(isValidKey('a\u007fb.jpg')).toBe(false);
    expect(isValidKey('caf\ufffd.jpg')).toBe(false); // a name that was not UTF-8
    expect(isValidKey('\ud800.jpg')).toBe(false);
    expect(isValidKey('😀.jpg')).toBe(true);
    expect(isValidKey('enroll/i0123456789abcdef01234567/x.jpg')).toBe(false); // an enrolment's key
    expect(isValidKey('enroll/2019/x.jpg')).toBe(true);
  });
});

describe('walkPhotos', () => {
  it('finds photos recursively, keyed by their /-separated relative path, sorted', async () => {
    touch('b.jpg', 'bb');
    touch('A.PNG');
    touch('2019/summer/beach.JPEG', '12345');
    touch('2019/notes.txt');
    touch('2019/ünïcode name.webp');
    touch('readme.md');
    const { photos, warnings } = await walkPhotos(tmp);
    expect(warnings).toEqual([]);
    expect(photos.map((p) => p.key)).toEqual(['2019/summer/beach.JPEG', '2019/ünïcode name.webp', 'A.PNG', 'b.jpg']);
    const beach = photos[0];
    expect(beach.file).toBe(path.join(tmp, '2019', 'summer', 'beach.JPEG'));
    expect(beach.size).toBe(5);
    expect(photos[3].size).toBe(2);
  });

  it('skips hidden files and hidden folders', async () => {
    touch('.hidden.jpg');
    touch('.thumbnails/a.jpg');
    touch('album/.cache/b.jpg');
    touch('album/c.jpg');
    expect((await walkPhotos(tmp)).photos.map((p) => p.key)).toEqual(['album/c.jpg']);
  });

  it('takes symlinks to files, never follows symlinked folders, skips dangling links and named pipes with a warning', async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), 'facepipe-walk-outside-'));
    try {
      writeFileSync(path.join(outside, 'elsewhere.jpg'), 'abc');
      touch('real/a.jpg');
      symlinkSync(path.join(outside, 'elsewhere.jpg'), path.join(tmp, 'link.jpg'));
      symlinkSync(outside, path.join(tmp, 'linked-folder'));
      symlinkSync(path.join(tmp, 'real'), path.join(tmp, 'real', 'loop')); // a cycle
      symlinkSync(path.join(tmp, 'missing.jpg'), path.join(tmp, 'dangling.jpg'));
      execFileSync('mkfifo', [path.join(tmp, 'pipe.jpg')]);
      const { photos, warnings } = await walkPhotos(tmp);
      expect(photos.map((p) => p.key)).toEqual(['link.jpg', 'real/a.jpg']);
      expect(photos[0].size).toBe(3);
      expect(warnings.sort()).toEqual(['skipped "dangling.jpg": a symbolic link to nothing', 'skipped "pipe.jpg": not a regular file (a named pipe, socket or device)']);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('works from a symlinked root', async () => {
    touch('x/a.gif');
    const link = path.join(os.tmpdir(), `facepipe-walk-link-${process.pid}`);
    symlinkSync(tmp, link);
    try {
      expect((await walkPhotos(link)).photos.map((p) => p.key)).toEqual(['x/a.gif']);
    } finally {
      rmSync(link);
    }
  });

  it('warns about (and skips) unreadable folders and unusable names', async () => {
    touch('ok.jpg');
    touch('bad\u0001name.jpg');
    const locked = path.join(tmp, 'locked');
    touch('locked/secret.jpg');
    chmodSync(locked, 0o000);
    try {
      const { photos, warnings } = await walkPhotos(tmp);
      const rootCanReadAnything = process.getuid?.() === 0;
      expect(photos.map((p) => p.key)).toEqual(rootCanReadAnything ? ['locked/secret.jpg', 'ok.jpg'] : ['ok.jpg']);
      expect(warnings.some((w) => w.includes('bad\\u0001name.jpg'))).toBe(true);
      if (!rootCanReadAnything) expect(warnings.some((w) => w.startsWith('skipped folder locked: EACCES'))).toBe(true);
    } finally {
      chmodSync(locked, 0o755);
    }
  });

  it('fails when the root cannot be read', async () => {
    await expect(walkPhotos(path.join(tmp, 'nope'))).rejects.toThrow(/ENOENT/);
  });
});
