import net from 'node:net';
import { checkRedis, createRedis, reconnectDelayMs } from './redis';
import { freePort, testRedisUrl } from './test-support';

describe('redis', () => {
  it('checkRedis resolves when Redis answers', async () => {
    await expect(checkRedis(testRedisUrl())).resolves.toBeUndefined();
  });

  it('checkRedis refuses a database number the server does not have (commands would land in database 0)', async () => {
    const base = testRedisUrl().replace(/\/\d*$/, '');
    await expect(checkRedis(`${base}/99999`)).rejects.toThrow(/REDIS_URL .* names database 99999, which this Redis does not have/);
    await expect(checkRedis(`${base}/1`)).resolves.toBeUndefined();
  });

  it('checkRedis rejects with advice when nothing listens', async () => {
    const port = await freePort();
    await expect(checkRedis(`redis://:hunter2@127.0.0.1:${port}`)).rejects.toThrow(
      new RegExp(`Redis is not reachable at URL: redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}.*Start it with: redis-server --daemonize yes`),
    );
  });

  it('checkRedis gives up on a server that never answers', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const started = Date.now();
    await expect(checkRedis(`redis://127.0.0.1:${port}`, 300)).rejects.toThrow(/not reachable/);
    expect(Date.now() - started).toBeLessThan(2000);
    sockets.forEach((s) => s.destroy());
    await new Promise((resolve) => silent.close(resolve));
  });

  it('createRedis connects with the options BullMQ needs', async () => {
    const redis = createRedis(testRedisUrl(), 'spec');
    expect(redis.options.maxRetriesPerRequest).toBeNull();
    expect(await redis.ping()).toBe('PONG');
    await redis.quit();
    expect(reconnectDelayMs(1)).toBe(100);
    expect(reconnectDelayMs(1000)).toBe(5000);
  });
});
