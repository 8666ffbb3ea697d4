import { Redis } from 'ioredis';
import type { GatewayConfig } from '../config/gateway-config';
import { REDIS_URL, testPrefix } from '../testing/test-gateway';
import { IdentitiesRepository } from './identities.repository';

describe('IdentitiesRepository: deleting an identity', () => {
  const prefix = testPrefix();
  let redis: Redis;
  let repo: IdentitiesRepository;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    repo = new IdentitiesRepository(redis, { prefix } as GatewayConfig);
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('removes the record and frees its externalId at once, and keeps the deletion marked until finished', async () => {
    const created = await repo.create('c', { name: 'Ada', externalId: 'emp-1', createdAt: new Date().toISOString() });
    if (!('record' in created)) throw new Error('not created');
    const { id } = created.record;
    expect(await repo.startDelete('c', id, 'detach')).toEqual({ ok: true, resumed: false });
    // Gone for every reader, and its externalId can be taken again.
    expect(await repo.get('c', id)).toBeNull();
    expect(await repo.byExternalId('c', 'emp-1')).toBeNull();
    expect((await repo.page('c', undefined, 10)).items).toEqual([]);
    const again = await repo.create('c', { name: 'Ada 2', externalId: 'emp-1', createdAt: new Date().toISOString() });
    expect('record' in again).toBe(true);

    // Until its faces are handled: the same DELETE resumes it, one of the other mode is refused.
    expect(await repo.startDelete('c', id, 'detach')).toEqual({ ok: true, resumed: true });
    expect(await repo.startDelete('c', id, 'erase')).toEqual({ ok: false, reason: 'busy', mode: 'detach' });
    await repo.finishDelete('c', id);
    expect(await repo.startDelete('c', id, 'erase')).toEqual({ ok: false, reason: 'missing' });
    expect(await repo.startDelete('c', 'i000000000000000000000000', 'detach')).toEqual({ ok: false, reason: 'missing' });
  });
});
