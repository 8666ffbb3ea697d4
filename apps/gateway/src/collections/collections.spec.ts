import { type TestGateway, startTestGateway } from '../testing/test-gateway';

describe('collections', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });

  afterAll(async () => {
    await gw.close();
  });

  it('creates a collection and registers it in Redis', async () => {
    const res = await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'family_2024-a' } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ name: 'family_2024-a', createdAt: expect.any(String) });
    expect(new Date(res.body.createdAt).toISOString()).toBe(res.body.createdAt);
    const stored = await gw.redis.hget(`${gw.prefix}:collections`, 'family_2024-a');
    expect(JSON.parse(stored!)).toEqual({ createdAt: res.body.createdAt });
  });

  it('answers 409 COLLECTION_EXISTS for a duplicate name', async () => {
    await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'dup' } });
    const res = await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'dup' } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('COLLECTION_EXISTS');
  });

  it.each([
    [{ name: 'Upper' }, 'name'],
    [{ name: '' }, 'name'],
    [{ name: 'a'.repeat(65) }, 'name'],
    [{ name: 'has space' }, 'name'],
    [{ name: 'x/y' }, 'name'],
    [{ name: 7 }, 'name'],
    [{}, 'name'],
  ])('rejects %j with 400 VALIDATION_FAILED naming the field', async (body, field) => {
    const res = await gw.fetch('/v1/collections', { method: 'POST', json: body });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message: expect.stringContaining(field), field });
  });

  it('rejects unknown fields', async () => {
    const res = await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'ok', extra: 1 } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('answers malformed JSON with 400 INVALID_JSON and a wrong content type with 415', async () => {
    const bad = await gw.fetch('/v1/collections', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": ' });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: { code: 'INVALID_JSON', message: expect.any(String) } });
    const form = await gw.fetch('/v1/collections', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'name=x' });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('reads the counts the matcher publishes; missing fields are 0', async () => {
    const { createdAt } = (await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'stats' } })).body;
    expect((await gw.fetch('/v1/collections/stats')).body).toEqual({ name: 'stats', createdAt, photos: 0, faces: 0, people: 0, threshold: 0.34 });
    await gw.redis.hset(`${gw.prefix}:collection:stats:stats`, { photos: 12, faces: 30 });
    const res = await gw.fetch('/v1/collections/stats');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: 'stats', createdAt, photos: 12, faces: 30, people: 0, threshold: 0.34 });
  });

  it('answers 404 COLLECTION_NOT_FOUND for an unknown (or impossible) name', async () => {
    for (const name of ['nope', 'NOPE', 'a%20b', 'x'.repeat(65)]) {
      const res = await gw.fetch(`/v1/collections/${name}`);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('COLLECTION_NOT_FOUND');
    }
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await gw.fetch('/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });
});
