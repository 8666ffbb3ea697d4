/**
 * `facepipe ingest` end to end in-process, against an in-memory fake of the gateway's batch API
 * (testing/fake-gateway.ts): the job protocol, modes, resume, failures, interruption. The real
 * gateway and workers are exercised by e2e.spec.ts.
 */
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseIngestArgs } from './args';
import { runIngest, type IngestIO } from './ingest';
import { parseState } from './state';
import { FakeGateway, type FakeGatewayOptions } from './testing/fake-gateway';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);

let tmp: string, photos: string, stateFile: string;
let gateway: FakeGateway | undefined;

beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'facepipe-ingest-'));
  photos = path.join(tmp, 'photos');
  stateFile = path.join(tmp, 'state.jsonl');
  put('a.jpg', JPEG);
  put('b/c.png', PNG);
  put('b/d/e.jpg', JPEG);
  put('notes.jpg', Buffer.from('not a photo'));
  put('b/readme.txt', Buffer.from('ignored'));
  put('.hidden/x.jpg', JPEG);
});
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
  rmSync(tmp, { recursive: true, force: true });
});

function put(rel: string, data: Buffer): void {
  mkdirSync(path.dirname(path.join(photos, rel)), { recursive: true });
  writeFileSync(path.join(photos, rel), data);
}

async function startGateway(opts: FakeGatewayOptions = {}): Promise<FakeGateway> {
  gateway = await new FakeGateway(opts).start();
  return gateway;
}

const sink = (isTTY = false) => {
  const out = { text: '', isTTY, columns: 100, write: (s: string) => ((out.text += s), true) };
  return out;
};

async function ingest(args: string[], io: Partial<IngestIO> = {}, env: NodeJS.ProcessEnv = {}) {
  const stdout = sink(), stderr = sink();
  const opts = parseIngestArgs([photos, '--state', stateFile, ...args], { FACEPIPE_SERVER: gateway?.url, ...env });
  const code = await runIngest(opts!, { stdout, stderr, pollMs: 10, resultsEveryMs: 10, plainEveryMs: 0, retryDelaysMs: [5, 5], ...io });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const stateKeys = () => [...parseState(readFileSync(stateFile, 'utf8'))].sort();

describe('facepipe ingest (against a fake gateway)', () => {
  it('path mode: one unsealed job over several chunks, then sealed; a summary; done keys recorded; exit 1 on a failure', async () => {
    const gw = await startGateway({ pathRoots: [tmp] });
    const r = await ingest(['--collection', 'family', '--mode', 'path'], { limits: { pathItems: 3 } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(gw.routes()).toEqual(
      expect.arrayContaining(['GET /v1/collections/family', 'POST /v1/collections', 'POST /v1/collections/family/photos', 'POST /v1/jobs/j1/photos', 'POST /v1/jobs/j1/seal']),
    );
    const routes = gw.routes();
    expect(routes.indexOf('POST /v1/collections/family/photos')).toBeLessThan(routes.indexOf('POST /v1/jobs/j1/photos'));
    expect(routes.indexOf('POST /v1/jobs/j1/photos')).toBeLessThan(routes.indexOf('POST /v1/jobs/j1/seal'));
    expect(gw.jobs.size).toBe(1);
    const [create, add] = gw.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/photos'));
    expect(create.json).toEqual({
      items: [
        { key: 'a.jpg', path: path.join(photos, 'a.jpg') },
        { key: 'b/c.png', path: path.join(photos, 'b/c.png') },
        { key: 'b/d/e.jpg', path: path.join(photos, 'b/d/e.jpg') },
      ],
      seal: false,
    });
    expect(add.json).toEqual({ items: [{ key: 'notes.jpg', path: path.join(photos, 'notes.jpg') }] });

    expect(r.stdout).toContain('4 photos in ' + photos);
    expect(r.stdout).toContain('collection "family" did not exist; created it');
    expect(r.stdout).toMatch(/progress: 4\/4 photos \(100\.0%\), .* 1 failed/);
    expect(r.stdout).toContain('Summary (collection "family", job j1, path mode)');
    expect(r.stdout).toContain('photos    3 done, 1 failed, 0 skipped');
    expect(r.stdout).toContain('faces     3 faces');
    expect(r.stdout).toContain('people    1 person in the collection');
    expect(r.stdout).toContain('failures  UNSUPPORTED_IMAGE_FORMAT ×1: notes.jpg');
    expect(r.stdout).toContain(`state     ${stateFile}`);
    expect(stateKeys()).toEqual(['a.jpg', 'b/c.png', 'b/d/e.jpg']);
  });

  it('a rerun skips the done photos and retries the failed ones; nothing left → exit 0 without sending', async () => {
    const gw = await startGateway({ pathRoots: [tmp] });
    expect((await ingest(['--collection', 'family'])).code).toBe(1);

    const again = await ingest(['--collection', 'family']);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(`skipping 3 already done (state file ${stateFile})`);
    expect(gw.requests.at(-1)).toBeDefined();
    const secondJob = gw.jobs.get('j2')!;
    expect([...secondJob.items.keys()]).toEqual(['notes.jpg']);
    expect(again.stdout).toContain('photos    0 done, 1 failed, 3 skipped');

    put('notes.jpg', JPEG); // fixed
    const fixed = await ingest(['--collection', 'family']);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toContain('photos    1 done, 0 failed, 3 skipped');
    expect(stateKeys()).toEqual(['a.jpg', 'b/c.png', 'b/d/e.jpg', 'notes.jpg']);

    const sent = gw.requests.length;
    const nothing = await ingest(['--collection', 'family']);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toContain('nothing to send');
    expect(nothing.stdout).toContain('photos    0 done, 0 failed, 4 skipped');
    expect(gw.routes().slice(sent)).toEqual(['GET /v1/collections/family']); // it exists (and its people count)
  });

  it('a rerun after the collection was deleted forgets the state and sends every photo again (a server that gives no createdAt)', async () => {
    const gw = await startGateway({ pathRoots: [tmp] });
    expect((await ingest(['--collection', 'family'])).code).toBe(1);
    expect(stateKeys()).toEqual(['a.jpg', 'b/c.png', 'b/d/e.jpg']);
    gw.collections.delete('family');
    const again = await ingest(['--collection', 'family']);
    expect(again.stderr).toContain('collection "family" was deleted since the state file was written; forgetting its state and sending every photo again');
    expect([...gw.jobs.get('j2')!.items.keys()]).toEqual(['a.jpg', 'b/c.png', 'b/d/e.jpg', 'notes.jpg']);
    expect(again.stdout).toContain('photos    3 done, 1 failed, 0 skipped');
    expect(stateKeys()).toEqual(['a.jpg', 'b/c.png', 'b/d/e.jpg']);
  });

  it("refuses another collection's state file before sending anything (exit 2)", async () => {
    const gw = await startGateway({ pathRoots: [tmp] });
    expect((await ingest(['--collection', 'family'])).code).toBe(1);
    const sent = gw.requests.length;
    const other = await ingest(['--collection', 'friends']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`facepipe: ingest: cannot use the state file ${stateFile}: it holds the state of an ingest of collection "family", not "friends"`);
    expect(gw.requests.length).toBe(sent);
  });

  it('auto mode: uploads when the server may not read the folder; keys keep their folders; the webhook goes along', async () => {
    const gw = await startGateway({ pathRoots: ['/somewhere/else'] });
    gw.collections.set('family', { photos: 0, faces: 0, people: 0 });
    const r = await ingest(['--collection', 'family', '--webhook', 'https://hooks.example/done', '--webhook-secret', 'sign-me'], { limits: { uploadFiles: 2 } });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('not under its FACEPIPE_PATH_ROOTS); uploading the photos instead');
    expect(r.stdout).not.toContain('created it');
    const submissions = gw.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/photos'));
    expect(submissions[0].json).toMatchObject({ seal: false, webhook: { url: 'https://hooks.example/done', secret: 'sign-me' } }); // refused
    expect(submissions[1].path).toBe('/v1/collections/family/photos');
    expect(submissions[1].form).toEqual({ fields: { webhookUrl: 'https://hooks.example/done', webhookSecret: 'sign-me', seal: 'false' }, files: [{ name: 'a.jpg', size: 7 }, { name: 'b/c.png', size: 7 }] });
    expect(submissions[2]).toMatchObject({ path: '/v1/jobs/j1/photos', form: { fields: {}, files: [{ name: 'b/d/e.jpg', size: 7 }, { name: 'notes.jpg', size: 11 }] } });
    expect(gw.jobs.size).toBe(1);
    expect(gw.jobs.get('j1')!.webhook).toEqual({ url: 'https://hooks.example/done', secret: 'sign-me' });
    expect(r.stdout).toContain('upload mode');
    expect(r.stdout).toContain('photos    3 done, 1 failed, 0 skipped');
    expect(stateKeys()).toEqual(['a.jpg', 'b/c.png', 'b/d/e.jpg']);
  });

  it('upload: a request too large is split; a photo too large on its own fails with the server code', async () => {
    put('big.jpg', Buffer.concat([JPEG, Buffer.alloc(200)]));
    const gw = await startGateway({ maxPhotoBytes: 100 });
    const r = await ingest(['--collection', 'c', '--mode', 'upload']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('photos    3 done, 2 failed, 0 skipped');
    expect(r.stdout).toMatch(/PHOTO_TOO_LARGE ×1: big\.jpg/);
    expect(r.stdout).toMatch(/UNSUPPORTED_IMAGE_FORMAT ×1: notes\.jpg/);
    expect(gw.jobs.size).toBe(1);
    expect([...gw.jobs.get('j1')!.items.keys()].sort()).toEqual(['a.jpg', 'b/c.png', 'b/d/e.jpg', 'notes.jpg']);
  });

  it('path mode the server refuses: the reason and what to do, exit 1', async () => {
    await startGateway({ pathRoots: [] });
    const r = await ingest(['--collection', 'c', '--mode', 'path']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/answered 400 PATH_NOT_ALLOWED: .*FACEPIPE_PATH_ROOTS.*--mode upload/);
  });

  it('sends FACEPIPE_API_KEY as x-api-key; a refused key says so', async () => {
    const gw = await startGateway({ apiKey: 'k1', pathRoots: [tmp] });
    const ok = await ingest(['--collection', 'c', '--api-key', 'k1']);
    expect(ok.code).toBe(1); // notes.jpg
    expect(gw.requests.every((q) => q.apiKey === 'k1')).toBe(true);
    const bad = await ingest(['--collection', 'c', '--api-key', 'wrong']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/answered 401 UNAUTHORIZED: .*\(set FACEPIPE_API_KEY or pass --api-key\)/);
  });

  it('an invalid collection name is a usage error (exit 2)', async () => {
    await startGateway();
    const r = await ingest(['--collection', 'Not Valid']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/collection "Not Valid": name: must match/);
  });

  it('a missing folder is a usage error (exit 2)', async () => {
    const opts = parseIngestArgs([path.join(tmp, 'nope'), '--collection', 'c'], {})!;
    const stderr = sink();
    expect(await runIngest(opts, { stdout: sink(), stderr })).toBe(2);
    expect(stderr.text).toContain('no such folder');
  });

  it('server unreachable: one line naming the URL and `npm start`, exit 1', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const opts = parseIngestArgs([photos, '--collection', 'c', '--state', stateFile, '--server', url], {})!;
    const stdout = sink(), stderr = sink();
    expect(await runIngest(opts, { stdout, stderr, retryDelaysMs: [] })).toBe(1);
    expect(stderr.text.trim().split('\n')).toEqual([
      `facepipe: cannot reach the facepipe server at ${url} (ECONNREFUSED); start it with \`npm start\`, or point --server / FACEPIPE_SERVER at it`,
    ]);
  });

  it('Ctrl-C while the job runs: stops, keeps what finished in the state file, seals the job, prints how to resume (exit 130)', async () => {
    const gw = await startGateway({ pathRoots: [tmp], settleLimit: 2 });
    const stop = new AbortController();
    const run = ingest(['--collection', 'c', '--mode', 'path'], { signal: stop.signal, limits: { pathItems: 2 } });
    // Wait until the two photos the fake lets finish are recorded, then interrupt.
    for (let i = 0; i < 500 && !(readFileSafe(stateFile).match(/"status":"done"/g)?.length === 2); i++) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    const r = await run;
    expect(r.code).toBe(130);
    expect(stateKeys()).toEqual(['a.jpg', 'b/c.png']);
    expect(gw.jobs.get('j1')!.sealed).toBe(true);
    expect(r.stderr).toContain(`2 photos recorded as done in this run (2 in all) in ${stateFile}`);
    // While sending, the server's count of what the sealed job holds (a request cut off by Ctrl-C
    // may have landed whole); once everything was sent, the interrupt may come after that.
    const sealed = /The job is sealed with the (\d+) photos? sent so far|The server finishes the job on its own/.exec(r.stderr);
    expect(sealed).not.toBeNull();
    if (sealed![1] !== undefined) expect(Number(sealed![1])).toBe(gw.jobs.get('j1')!.items.size);
    expect(r.stderr).toContain(`to resume (skipping the photos already done), run: facepipe ingest ${photos} --state ${stateFile} --collection c --mode path`);
    expect(r.stdout).not.toContain('Summary');
  });

  it('Ctrl-C: the resume hint says when the webhook secret came from the environment (the command alone would sign nothing)', async () => {
    const gw = await startGateway({ pathRoots: [tmp], settleLimit: 2 });
    const stop = new AbortController();
    const run = ingest(['--collection', 'c', '--mode', 'path', '--webhook', 'https://hooks.example/done'], { signal: stop.signal, limits: { pathItems: 2 } }, { FACEPIPE_WEBHOOK_SECRET: 'from-env' });
    for (let i = 0; i < 500 && !(readFileSafe(stateFile).match(/"status":"done"/g)?.length === 2); i++) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    const r = await run;
    expect(r.code).toBe(130);
    expect(gw.jobs.get('j1')!.webhook).toEqual({ url: 'https://hooks.example/done', secret: 'from-env' });
    expect(r.stderr).toContain('--webhook https://hooks.example/done (with FACEPIPE_WEBHOOK_SECRET set, as now)');
    expect(r.stderr).not.toContain('from-env');
  });

  it('a rerun after Ctrl-C waits for the earlier job, records what it finished, and sends only the rest', async () => {
    const hold = new Set(['b/d/e.jpg']);
    const gw = await startGateway({ pathRoots: [tmp], hold });
    const stop = new AbortController();
    const first = ingest(['--collection', 'c'], { signal: stop.signal });
    for (let i = 0; i < 500 && (readFileSafe(stateFile).match(/"status":"done"/g)?.length ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    expect((await first).code).toBe(130);
    expect(stateKeys()).toEqual(['a.jpg', 'b/c.png']);

    setTimeout(() => hold.delete('b/d/e.jpg'), 200); // the server finishes the photo a while later
    const again = await ingest(['--collection', 'c']);
    expect(again.code).toBe(1); // notes.jpg, retried
    expect(again.stdout).toContain('job j1 of an earlier run is still running; waiting for it to finish');
    expect(again.stdout).toContain("1 photo finished by an earlier run's job after that run stopped; recorded as done");
    expect(again.stdout).toContain('skipping 3 already done');
    expect([...gw.jobs.get('j2')!.items.keys()]).toEqual(['notes.jpg']);
    expect(again.stdout).toContain('photos    0 done, 1 failed, 3 skipped');
    expect(stateKeys()).toEqual(['a.jpg', 'b/c.png', 'b/d/e.jpg']);
    const jobs = readFileSync(stateFile, 'utf8').split('\n').filter((l) => l.includes('"job"')).map((l) => JSON.parse(l));
    expect(jobs.map((j) => [j.job, j.finished ?? false])).toEqual([['j1', false], ['j1', true], ['j2', false], ['j2', true]]);
  });

  it("Ctrl-C while a rerun waits for the earlier job still records what that job has finished", async () => {
    const hold = new Set(['b/c.png', 'b/d/e.jpg']);
    await startGateway({ pathRoots: [tmp], hold });
    const stop = new AbortController();
    const first = ingest(['--collection', 'c'], { signal: stop.signal });
    for (let i = 0; i < 500 && (readFileSafe(stateFile).match(/"status":"done"/g)?.length ?? 0) < 1; i++) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    expect((await first).code).toBe(130);
    expect(stateKeys()).toEqual(['a.jpg']);

    hold.delete('b/c.png'); // finished on the server since; e.jpg is still being processed
    const again = new AbortController();
    const second = ingest(['--collection', 'c'], { signal: again.signal });
    setTimeout(() => again.abort(), 300);
    const r = await second;
    expect(r.code).toBe(130);
    expect(r.stdout).toContain('job j1 of an earlier run is still running');
    expect(stateKeys()).toEqual(['a.jpg', 'b/c.png']);
    expect(r.stderr).toContain(`1 photo recorded as done in this run (2 in all) in ${stateFile}`);
  });

  it("a rerun seals and catches up with a killed run's job, and forgets one the server no longer has", async () => {
    const gw = await startGateway({ pathRoots: [tmp] });
    gw.collections.set('c', { photos: 0, faces: 0, people: 0 });
    // What a killed run leaves: an unsealed job with one photo, and the state file naming it.
    const created = await fetch(`${gw.url}/v1/collections/c/photos`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ key: 'a.jpg', path: path.join(photos, 'a.jpg') }], seal: false }),
    }).then((r) => r.json() as Promise<{ jobId: string }>);
    const header = { facepipeIngest: 1, server: gw.url, collection: 'c', dir: realpathSync(photos) };
    writeFileSync(stateFile, [header, { job: 'jgone' }, { job: created.jobId }].map((l) => JSON.stringify(l) + '\n').join(''));

    const r = await ingest(['--collection', 'c']);
    expect(r.code).toBe(1);
    expect(gw.jobs.get(created.jobId)!.sealed).toBe(true);
    expect(r.stdout).toContain("1 photo finished by an earlier run's job after that run stopped");
    expect([...gw.jobs.get('j2')!.items.keys()]).toEqual(['b/c.png', 'b/d/e.jpg', 'notes.jpg']);
    expect(r.stdout).toContain('photos    2 done, 1 failed, 1 skipped');
    expect(stateKeys()).toEqual(['a.jpg', 'b/c.png', 'b/d/e.jpg']);
    expect(readFileSync(stateFile, 'utf8')).toContain('{"job":"jgone","finished":true');
  });

  it('records a photo that finishes late, behind the results cursor, while the job still runs', async () => {
    const hold = new Set(['a.jpg', 'notes.jpg']);
    await startGateway({ pathRoots: [tmp], hold });
    const stop = new AbortController();
    const run = ingest(['--collection', 'c'], { signal: stop.signal, limits: { resultsPage: 1, fullReadEveryMs: 50 } });
    const recorded = async (n: number) => {
      for (let i = 0; i < 500 && (readFileSafe(stateFile).match(/"status":"done"/g)?.length ?? 0) < n; i++) await new Promise((r) => setTimeout(r, 10));
      return stateKeys();
    };
    expect(await recorded(2)).toEqual(['b/c.png', 'b/d/e.jpg']);
    hold.delete('a.jpg'); // the first key finishes last
    expect(await recorded(3)).toEqual(['a.jpg', 'b/c.png', 'b/d/e.jpg']);
    stop.abort();
    expect((await run).code).toBe(130);
  });

  it('shows a terminal progress line when stdout is a TTY', async () => {
    await startGateway({ pathRoots: [tmp], settlePerPoll: 1 });
    const stdout = sink(true);
    const opts = parseIngestArgs([photos, '--collection', 'c', '--state', stateFile, '--server', gateway!.url], {})!;
    await runIngest(opts, { stdout, stderr: sink(), pollMs: 5, resultsEveryMs: 5 });
    const lines = stdout.text.split('\r\x1b[K');
    expect(lines.length).toBeGreaterThan(4);
    expect(lines.at(-1)).toMatch(/^[█░]+ 100% 4\/4 photos · [\d.-]+ photos\/s · ETA 0s · 1 failed\n/);
  });
});

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
