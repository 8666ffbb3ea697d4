import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultStateFile, parseState, StateFile, StateFileError } from './state';

const HEADER = { server: 'http://127.0.0.1:3000', collection: 'c', dir: '/photos' };

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'facepipe-state-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('defaultStateFile', () => {
  it('lives under $XDG_STATE_HOME/facepipe, named by a hash of server, collection and folder', () => {
    const f = defaultStateFile('http://127.0.0.1:3000', 'family', '/photos', { XDG_STATE_HOME: '/state' });
    expect(f).toMatch(/^\/state\/facepipe\/ingest-[0-9a-f]{16}\.jsonl$/);
    // sha256("http://127.0.0.1:3000|family|/photos"), first 16 hex digits
    const { createHash } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    expect(f).toBe(`/state/facepipe/ingest-${createHash('sha256').update('http://127.0.0.1:3000|family|/photos').digest('hex').slice(0, 16)}.jsonl`);
    expect(defaultStateFile('http://127.0.0.1:3000', 'other', '/photos', { XDG_STATE_HOME: '/state' })).not.toBe(f);
    expect(defaultStateFile('http://127.0.0.1:3001', 'family', '/photos', { XDG_STATE_HOME: '/state' })).not.toBe(f);
    expect(defaultStateFile('http://127.0.0.1:3000', 'family', '/photos2', { XDG_STATE_HOME: '/state' })).not.toBe(f);
  });

  it('defaults to ~/.local/state (also when XDG_STATE_HOME is relative)', () => {
    expect(defaultStateFile('s', 'c', '/d', { HOME: '/home/u' })).toMatch(/^\/home\/u\/\.local\/state\/facepipe\/ingest-/);
    expect(defaultStateFile('s', 'c', '/d', { HOME: '/home/u', XDG_STATE_HOME: 'rel' })).toMatch(/^\/home\/u\/\.local\/state\/facepipe\//);
  });
});

describe('StateFile', () => {
  it('creates its folder, records done keys as JSON lines, and a reopen knows them', () => {
    const file = path.join(tmp, 'deep', 'er', 'state.jsonl');
    const s = StateFile.open(file, HEADER);
    expect(s.doneCount).toBe(0);
    expect(s.recordDone(['a.jpg', 'b/c.jpg', 'a.jpg'])).toBe(2);
    expect(s.recordDone(['a.jpg'])).toBe(0);
    // Written through at once: readable before close (what a killed process leaves behind).
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ facepipeIngest: 1, ...HEADER });
    expect(lines.slice(1).map((l) => [l.key, l.status])).toEqual([['a.jpg', 'done'], ['b/c.jpg', 'done']]);
    s.close();

    const again = StateFile.open(file, HEADER);
    expect(again.isDone('a.jpg')).toBe(true);
    expect(again.isDone('b/c.jpg')).toBe(true);
    expect(again.isDone('failed.jpg')).toBe(false);
    expect(again.doneCount).toBe(2);
    again.close();
    expect(readFileSync(file, 'utf8').match(/facepipeIngest/g)).toHaveLength(1); // the header only once
  });

  it('survives a torn last line: ignores it and starts the next append on a new line', () => {
    const file = path.join(tmp, 's.jsonl');
    writeFileSync(file, JSON.stringify({ facepipeIngest: 1, ...HEADER }) + '\n' + JSON.stringify({ key: 'a.jpg', status: 'done' }) + '\n');
    appendFileSync(file, '{"key":"b.jpg","sta'); // killed mid-write
    const s = StateFile.open(file, HEADER);
    expect([s.isDone('a.jpg'), s.isDone('b.jpg')]).toEqual([true, false]);
    s.recordDone(['c.jpg']);
    s.close();
    expect([...parseState(readFileSync(file, 'utf8'))]).toEqual(['a.jpg', 'c.jpg']);
  });

  it('remembers the jobs created and which of them had all their results read', () => {
    const file = path.join(tmp, 's.jsonl');
    const s = StateFile.open(file, HEADER);
    s.recordJob('j1');
    s.recordJob('j2');
    s.recordJob('j1');
    s.recordJobFinished('j1');
    expect(s.unfinishedJobs()).toEqual(['j2']);
    s.close();
    const again = StateFile.open(file, HEADER);
    expect(again.unfinishedJobs()).toEqual(['j2']);
    again.close();
    expect(readFileSync(file, 'utf8').match(/"job"/g)).toHaveLength(3);
  });

  it("refuses another ingest's state file, a file that is not one, and what is not a regular file", () => {
    const file = path.join(tmp, 's.jsonl');
    StateFile.open(file, HEADER).close();
    for (const [field, value] of [['collection', 'other'], ['dir', '/photos/2020'], ['server', 'http://10.0.0.1:3000']]) {
      expect(() => StateFile.open(file, { ...HEADER, [field]: value })).toThrow(StateFileError);
    }
    expect(() => StateFile.open(file, { ...HEADER, collection: 'other' })).toThrow(/collection "c", not "other".*another --state/);
    const log = path.join(tmp, 'server.log');
    writeFileSync(log, 'GET / 200\n');
    expect(() => StateFile.open(log, HEADER)).toThrow(/not a facepipe ingest state file/);
    expect(readFileSync(log, 'utf8')).toBe('GET / 200\n'); // untouched
    expect(() => StateFile.open('/dev/null', HEADER)).toThrow(/not a regular file/);
    expect(() => StateFile.open(tmp, HEADER)).toThrow(new StateFileError('not a regular file (a folder)'));
  });

  it("records the collection's creation time, and a reset forgets everything but the header", () => {
    const file = path.join(tmp, 's.jsonl');
    const s = StateFile.open(file, HEADER);
    s.recordDone(['a.jpg']);
    s.recordJob('j1');
    s.recordCollection('2026-01-01T00:00:00.000Z');
    s.close();
    const again = StateFile.open(file, HEADER);
    expect(again.collectionCreatedAt).toBe('2026-01-01T00:00:00.000Z');
    again.reset();
    expect([again.doneCount, again.unfinishedJobs(), again.collectionCreatedAt]).toEqual([0, [], undefined]);
    again.recordDone(['b.jpg']);
    again.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([{ facepipeIngest: 1, ...HEADER }, expect.objectContaining({ key: 'b.jpg', status: 'done' })]);
  });

  it('reads only done lines', () => {
    const text = ['{"facepipeIngest":1}', '{"key":"x","status":"failed"}', '{"key":"y","status":"done"}', 'garbage', '', '{"key":3,"status":"done"}'].join('\n');
    expect([...parseState(text)]).toEqual(['y']);
  });
});
