/**
 * The CLI as a user runs it: the real launcher (bin/facepipe.js → dist/apps/cli/main.js, built by
 * `npm run build`, which `npm test` runs first), real models, real photos.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'bin/facepipe.js');
const DEMO = path.dirname(require.resolve('@vladmandic/face-api/package.json')) + '/demo';
const demo = (i: number) => path.join(DEMO, `sample${i}.jpg`);

function facepipe(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, FACEPIPE_THREADS: '2' } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.split('\n').filter(Boolean) };
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'facepipe-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('facepipe detect / embed --json', () => {
  it('prints one line per input in order, errors on their own line, exit 1 when any failed', () => {
    const text = path.join(tmp, 'notes.jpg');
    writeFileSync(text, 'this is not a photo');
    const missing = path.join(tmp, 'missing.jpg');
    const r = facepipe(['detect', '--json', demo(1), text, missing, demo(4)]);
    expect(r.code).toBe(1);
    const out = r.lines.map((l) => JSON.parse(l));
    expect(out.map((o) => o.file)).toEqual([demo(1), text, missing, demo(4)]);
    expect(Object.keys(out[0]).sort()).toEqual(['faces', 'file', 'height', 'width']);
    expect([out[0].width, out[0].height]).toEqual([1920, 1280]);
    expect(out[0].faces).toHaveLength(3);
    expect(out[3].faces).toHaveLength(4);
    const face = out[0].faces[0];
    expect(Object.keys(face).sort()).toEqual(['box', 'landmarks', 'quality', 'score']);
    expect(face.box).toHaveLength(4);
    expect(face.landmarks).toHaveLength(5);
    expect(out[1].error.code).toBe('UNSUPPORTED_IMAGE_FORMAT');
    expect(out[2].error.code).toBe('FILE_NOT_FOUND');
    expect(typeof out[2].error.message).toBe('string');
  });

  it('embed adds a unit-length 512-d embedding per face; exit 0 when all succeed', () => {
    const r = facepipe(['embed', '--json', demo(2)]);
    expect(r.code).toBe(0);
    const [line] = r.lines.map((l) => JSON.parse(l));
    expect(line.faces).toHaveLength(3);
    for (const f of line.faces) {
      expect(f.embedding).toHaveLength(512);
      expect(Math.hypot(...f.embedding)).toBeCloseTo(1, 3);
    }
  });

  it('a --files-from list that does not exist is a usage error: one line, exit 2', () => {
    const r = facepipe(['detect', '--files-from', '/nonexistent/list.txt']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('facepipe: --files-from /nonexistent/list.txt: no such file\n');
  });

  it('reads paths from --files-from - (stdin)', () => {
    const r = facepipe(['detect', '--json', '--files-from', '-'], `${demo(3)}\n${demo(5)}\n`);
    expect(r.code).toBe(0);
    expect(r.lines.map((l) => JSON.parse(l).faces.length)).toEqual([3, 5]);
  });

  it('survives a command line of thousands of paths (onnxruntime crashes on > ~32 KB of argv)', async () => {
    // 2,000 paths of ~60 characters = ~120 KB of arguments, all links to one small photo.
    const photo = path.join(tmp, 'small.jpg');
    await sharp(demo(1)).resize(160).jpeg().toBuffer().then((b) => writeFileSync(photo, b));
    const dir = path.join(tmp, 'a-fairly-long-archive-folder-name-for-the-test');
    mkdirSync(dir);
    const files = Array.from({ length: 2000 }, (_, i) => {
      const f = path.join(dir, `IMG_${String(i).padStart(6, '0')}.jpg`);
      symlinkSync(photo, f);
      return f;
    });
    const r = facepipe(['detect', '--json', ...files]);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(files.length);
    expect(JSON.parse(r.lines[1999]).file).toBe(files[1999]);
  }, 240_000);
});

describe('facepipe verify', () => {
  it('says same person for two framings of one face, different for two people', async () => {
    const a = path.join(tmp, 'a.jpg'), b = path.join(tmp, 'b.jpg'), c = path.join(tmp, 'c.jpg');
    // sample1: three people in a row; crop the left one twice (differently) and the right one once.
    await sharp(demo(1)).extract({ left: 300, top: 250, width: 450, height: 500 }).jpeg().toFile(a);
    await sharp(demo(1)).extract({ left: 350, top: 300, width: 350, height: 380 }).resize(250).jpeg({ quality: 70 }).toFile(b);
    await sharp(demo(1)).extract({ left: 1350, top: 100, width: 450, height: 500 }).jpeg().toFile(c);
    const same = facepipe(['verify', '--json', a, b]);
    expect(same.code).toBe(0);
    const s = JSON.parse(same.stdout);
    expect(s.match).toBe(true);
    expect(s.similarity).toBeGreaterThan(s.threshold);
    const diff = JSON.parse(facepipe(['verify', '--json', a, c]).stdout);
    expect(diff.match).toBe(false);
    expect(diff.similarity).toBeLessThan(diff.threshold);
    expect(facepipe(['verify', a, c]).stdout).toMatch(/^different people: similarity -?\d\.\d{3}/);
  });

  it('fails with NO_FACE_FOUND on a photo without a face', async () => {
    const blank = path.join(tmp, 'blank.png');
    await sharp({ create: { width: 200, height: 200, channels: 3, background: '#336699' } }).png().toFile(blank);
    const r = facepipe(['verify', '--json', demo(1), blank]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('NO_FACE_FOUND');
  });
});

describe('usage', () => {
  it('exits 2 with a message on misuse, 0 on --help', () => {
    const r = facepipe(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect(facepipe(['verify', demo(1)]).code).toBe(2);
    const help = facepipe(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('facepipe detect');
  });
});
