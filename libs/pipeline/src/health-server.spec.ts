import net from 'node:net';
import { Registry } from 'prom-client';
import { HealthServer, listenError } from './health-server';
import { createLogger } from './logger';

describe('listening', () => {
  it('names the variable to change when the port is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const health = new HealthServer({ host: '127.0.0.1', port, registry: new Registry(), logger: createLogger('detector', { write: () => true }), ready: async () => true });
      await expect(health.listen()).rejects.toThrow(`cannot listen on 127.0.0.1:${port}: port ${port} is already in use (FACEPIPE_METRICS_PORT)`);
    } finally {
      taken.close();
    }
  });

  it('says which setting a host or port failure is about, and keeps other errors', () => {
    const failure = (code: string) => Object.assign(new Error(`listen ${code}`), { code });
    expect(listenError(failure('ENOTFOUND'), 'nope.invalid', 3000, 'PORT').message).toBe('cannot listen on nope.invalid:3000: HOST nope.invalid does not resolve to an address');
    expect(listenError(failure('EADDRNOTAVAIL'), '10.9.9.9', 3000, 'PORT').message).toContain('HOST 10.9.9.9 is not an address of this machine');
    expect(listenError(failure('EACCES'), '0.0.0.0', 80, 'PORT').message).toContain('port 80 needs privileges (PORT)');
    const other = failure('EMFILE');
    expect(listenError(other, 'h', 1, 'PORT')).toBe(other);
  });
});
