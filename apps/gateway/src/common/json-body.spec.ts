/**
 * What the JSON body parser costs a caller before any guard has looked at the request: a body too
 * deep or too wide is refused from its bytes (it used to block the event loop for 5–13 s in
 * JSON.parse), small routes take 1 MiB, and a submission body is not parsed at all for a key that
 * may not submit there.
 */
import { type TestGateway, startTestGateway } from '../testing/test-gateway';
import { gzipSync } from 'node:zlib';
import { MAX_JSON_DEPTH, MAX_JSON_MEMBERS, MAX_JSON_VALUES, SMALL_JSON_LIMIT, jsonShapeProblem } from './json-body';

describe('jsonShapeProblem', () => {
  const problem = (text: string) => jsonShapeProblem(Buffer.from(text));
  const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
  const members = (n: number) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`;

  it(`lets through ${MAX_JSON_DEPTH} levels and ${MAX_JSON_MEMBERS} members, and refuses one more`, () => {
    expect(problem(nested(MAX_JSON_DEPTH))).toBeNull();
    expect(problem(nested(MAX_JSON_DEPTH + 1))).toMatch(/nests deeper than 64 levels/);
    expect(problem(`{"a":${'{"a":'.repeat(MAX_JSON_DEPTH - 1)}1${'}'.repeat(MAX_JSON_DEPTH)}`)).toBeNull();
    expect(problem(members(MAX_JSON_MEMBERS))).toBeNull();
    expect(problem(members(MAX_JSON_MEMBERS + 1))).toMatch(/more than 10000 members/);
    // Members are counted per object: many objects of a few members each (10,000 items) are fine.
    expect(problem(`{"items":[${Array.from({ length: 20_000 }, () => '{"url":"u","key":"k"}').join(',')}]}`)).toBeNull();
  });

  it(`refuses more than ${MAX_JSON_VALUES} values in all, however shallow and narrow`, () => {
    const items = (n: number) => `{"items":[${Array.from({ length: n }, () => '{}').join(',')}]}`;
    expect(problem(items(MAX_JSON_VALUES / 2 - 2))).toBeNull(); // 2 per item ({ and ,) + the body's own
    expect(problem(items(MAX_JSON_VALUES / 2 + 1))).toMatch(/more than 100000 values/);
    expect(problem(`[${'1,'.repeat(MAX_JSON_VALUES + 1)}1]`)).toMatch(/more than 100000 values/);
  });

  it('does not count brackets, colons or escaped quotes inside strings', () => {
    const tricky = JSON.stringify({ key: `${'[{'.repeat(100)}:::\\"\u005b`, meta: { a: '\\', b: '"]}' } });
    expect(JSON.parse(tricky)).toBeTruthy();
    expect(problem(tricky)).toBeNull();
    expect(problem(`{"a":"${'['.repeat(1000)}"}`)).toBeNull();
    expect(problem(`{"a":"${':'.repeat(MAX_JSON_MEMBERS + 5)}"}`)).toBeNull();
  });
});

describe('the JSON body parser in the gateway', () => {
  const ADMIN_KEY = 'admin-key-for-json-body-spec';
  const admin = { 'x-api-key': ADMIN_KEY };
  let gw: TestGateway;
  let readOnly: Record<string, string>;
  let writer: Record<string, string>;

  beforeAll(async () => {
    gw = await startTestGateway({ FACEPIPE_API_KEY: ADMIN_KEY });
    for (const name of ['mine', 'theirs']) expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name }, headers: admin })).status).toBe(201);
    const key = async (scopes: string[]) => {
      const res = await gw.fetch('/v1/keys', { method: 'POST', json: { collections: ['mine'], scopes }, headers: admin });
      expect(res.status).toBe(201);
      return { 'x-api-key': res.body.key as string };
    };
    readOnly = await key(['read']);
    writer = await key(['read', 'write']);
  });

  afterAll(async () => {
    await gw?.close();
  });

  const post = (route: string, body: string, headers: Record<string, string>) =>
    gw.fetch(route, { method: 'POST', body, headers: { ...headers, 'content-type': 'application/json' } });

  it('refuses 7,000,000 nested arrays (14 MB) from their bytes, in well under a second of parsing', async () => {
    const levels = 7_000_000;
    const body = `{"name":"x","metadata":{"a":${'['.repeat(levels)}${']'.repeat(levels)}}}`;
    for (const route of ['/v1/collections/mine/photos', '/v1/collections/mine/identities']) {
      const started = Date.now();
      const res = await post(route, body, admin);
      // The identities route takes 1 MiB: refused for its size before any parse.
      expect({ route, status: res.status, code: res.body.error.code }).toEqual(
        route.endsWith('/photos') ? { route, status: 400, code: 'INVALID_JSON' } : { route, status: 413, code: 'PAYLOAD_TOO_LARGE' },
      );
      // JSON.parse took 8–13 s on this body; the byte scan takes tens of milliseconds (sending 14 MB is most of this).
      expect(Date.now() - started).toBeLessThan(3_000);
    }
    expect((await post('/v1/collections/mine/photos', `{"items":${'['.repeat(65)}${']'.repeat(65)}}`, admin)).body).toEqual({
      error: { code: 'INVALID_JSON', message: 'The JSON body nests deeper than 64 levels' },
    });
  });

  it('refuses an object of a million members, and names only five unknown members of a smaller one', async () => {
    const wide = (n: number) => `{"name":"x",${Array.from({ length: n }, (_, i) => `"k${i}":1`).join(',')}}`;
    const started = Date.now();
    const res = await post('/v1/collections/mine/photos', wide(1_000_000), admin);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'INVALID_JSON', message: 'A JSON object in the body has more than 10000 members' });
    expect(Date.now() - started).toBeLessThan(3_000);

    const some = await post('/v1/collections/mine/identities', wide(1_000), admin);
    expect(some.status).toBe(400);
    expect(some.body.error).toEqual({ code: 'VALIDATION_FAILED', field: 'k0', message: 'k0: unknown members "k0", "k1", "k2", "k3", "k4" and 995 more' });
  });

  it('applies the checks to what a compressed body decodes to: 16 KB of gzip holding 16 MiB of {},{},… is refused at once', async () => {
    const bomb = gzipSync(Buffer.from(`{"items":[{"url":"https://photos.example.com/1.jpg"}],"x":[${'{},'.repeat(5_500_000)}{}]}`));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const started = Date.now();
    const res = await gw.fetch('/v1/collections/mine/photos', { method: 'POST', body: bomb, headers: { ...writer, 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    expect(res.body.error).toEqual({ code: 'INVALID_JSON', message: `The JSON body holds more than ${MAX_JSON_VALUES} values` });
    expect(Date.now() - started).toBeLessThan(2_000); // JSON.parse took 3.4 s, blocking every request
  });

  it(`takes at most ${SMALL_JSON_LIMIT / 1024 / 1024} MiB on routes other than the photo submissions, which take FACEPIPE_JSON_BODY_LIMIT`, async () => {
    const padded = JSON.stringify({ name: 'padded', metadata: { pad: 'x'.repeat(SMALL_JSON_LIMIT) } });
    expect((await post('/v1/collections/mine/identities', padded, admin)).body.error.code).toBe('PAYLOAD_TOO_LARGE');
    // 10,000 items of 300 bytes: 3 MB, accepted on the submission route.
    const items = Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i}`, url: `https://photos.example.com/${'p'.repeat(250)}/${i}.jpg` }));
    const bulk = JSON.stringify({ items });
    expect(bulk.length).toBeGreaterThan(2 * SMALL_JSON_LIMIT);
    const accepted = await post('/v1/collections/mine/photos', bulk, writer);
    expect(accepted.status).toBe(202);
    expect(await gw.jobStore.get(accepted.body.jobId)).toMatchObject({ collection: 'mine', total: 10_000 });
  });

  it('does not parse a submission body for a key that may not submit there: the guard answers as before', async () => {
    const malformed = '{"items": [';
    // The admin key and a writer of the collection get the parser's answer...
    for (const headers of [admin, writer]) expect((await post('/v1/collections/mine/photos', malformed, headers)).body.error.code).toBe('INVALID_JSON');
    // ...a key without the collection its 404, a key without the write scope its 403, whatever the body.
    expect((await post('/v1/collections/theirs/photos', malformed, writer)).body.error.code).toBe('COLLECTION_NOT_FOUND');
    expect((await post('/V1/Collections/theirs/photos/', malformed, writer)).status).toBe(404);
    expect((await post('/v1/collections/mine/photos', malformed, readOnly)).body.error).toEqual({ code: 'FORBIDDEN', message: 'This API key lacks the "write" scope' });
    expect((await post('/v1/jobs/j000000000000000000000000/photos', malformed, readOnly)).status).toBe(404);
  });
});
