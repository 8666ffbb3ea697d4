import { DEFAULT_MATCH_THRESHOLD } from '@facepipe/contracts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from './config';

/** The built-in model manifest, as an operator could name it. */
const BUILT_IN = path.resolve(__dirname, '../../face-engine/manifests/faceplugin.json');
import { ConfigError } from './config-error';

describe('loadConfig', () => {
  it('has defaults for everything', () => {
    expect(loadConfig({})).toEqual({
      host: '127.0.0.1',
      port: 3000,
      redisUrl: 'redis://127.0.0.1:6379',
      prefix: 'facepipe',
      dataDir: path.resolve('data'),
      pathRoots: [],
      allowPrivateUrls: false,
      maxPhotoBytes: 50 * 1024 * 1024,
      fetchTimeoutMs: 20_000,
      metricsPort: 0,
      embedBatchSize: 16,
      embedBatchWaitMs: 5,
      clusterThreshold: 0.5,
      concurrency: 0,
      threads: 1,
      executionProvider: 'cpu',
      faceIndex: { backend: 'embedded' },
      syncTimeoutMs: 30_000,
      enrollMinQuality: 0.2,
      jobRetentionSeconds: 7 * 86_400,
      defaultThreshold: DEFAULT_MATCH_THRESHOLD,
    });
  });

  it('parses every variable', () => {
    const config = loadConfig({
      HOST: '0.0.0.0',
      PORT: '8080',
      REDIS_URL: 'rediss://:pw@redis.internal:6380/2',
      FACEPIPE_PREFIX: 'fp_test-1',
      FACEPIPE_DATA_DIR: 'relative/dir',
      FACEPIPE_API_KEY: 'k3y',
      FACEPIPE_PATH_ROOTS: '/srv/photos, /mnt/archive/,',
      FACEPIPE_ALLOW_PRIVATE_URLS: 'true',
      FACEPIPE_MAX_PHOTO_BYTES: '1048576',
      FACEPIPE_FETCH_TIMEOUT_MS: '5000',
      FACEPIPE_METRICS_PORT: '9200',
      FACEPIPE_EMBED_BATCH: '32',
      FACEPIPE_EMBED_BATCH_WAIT_MS: '0',
      FACEPIPE_CLUSTER_THRESHOLD: '0.6',
      FACEPIPE_CONCURRENCY: '4',
      FACEPIPE_THREADS: '2',
      FACEPIPE_EXECUTION_PROVIDER: 'cuda',
      FACE_INDEX: 'qdrant',
      QDRANT_URL: 'https://qdrant.internal:6333',
      QDRANT_API_KEY: 'q-k3y',
      FACEPIPE_SYNC_TIMEOUT_MS: '5000',
      FACEPIPE_ENROLL_MIN_QUALITY: '0.35',
      FACEPIPE_JOB_RETENTION_DAYS: '30',
      FACEPIPE_INDEX_EF: '256',
      FACEPIPE_MODEL_MANIFEST: BUILT_IN,
      FACEPIPE_MIN_FACE_SIZE: '100',
    });
    expect(config).toEqual({
      host: '0.0.0.0',
      port: 8080,
      redisUrl: 'rediss://:pw@redis.internal:6380/2',
      prefix: 'fp_test-1',
      dataDir: path.resolve('relative/dir'),
      apiKey: 'k3y',
      pathRoots: ['/srv/photos', '/mnt/archive'],
      allowPrivateUrls: true,
      maxPhotoBytes: 1_048_576,
      fetchTimeoutMs: 5000,
      metricsPort: 9200,
      embedBatchSize: 32,
      embedBatchWaitMs: 0,
      clusterThreshold: 0.6,
      concurrency: 4,
      threads: 2,
      executionProvider: 'cuda',
      faceIndex: { backend: 'qdrant', url: 'https://qdrant.internal:6333', apiKey: 'q-k3y', ef: 256 },
      syncTimeoutMs: 5000,
      enrollMinQuality: 0.35,
      jobRetentionSeconds: 30 * 86_400,
      modelManifest: BUILT_IN,
      minFaceSize: 100,
      defaultThreshold: DEFAULT_MATCH_THRESHOLD,
    });
    expect(loadConfig({ FACEPIPE_JOB_RETENTION_DAYS: '0' }).jobRetentionSeconds).toBe(0);
    expect(loadConfig({ FACEPIPE_INDEX_EF: '128' }).faceIndex).toEqual({ backend: 'embedded', ef: 128 });
    expect(loadConfig({ FACEPIPE_ALLOW_PRIVATE_URLS: '0' }).allowPrivateUrls).toBe(false);
    expect(loadConfig({ FACEPIPE_ALLOW_PRIVATE_URLS: '1' }).allowPrivateUrls).toBe(true);
  });

  it("takes the default threshold from FACEPIPE_MODEL_MANIFEST, and refuses a manifest it cannot read", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-config-'));
    try {
      const manifest = JSON.parse(readFileSync(BUILT_IN, 'utf8'));
      manifest.embedder.threshold = 0.41;
      writeFileSync(path.join(dir, 'm.json'), JSON.stringify(manifest));
      expect(loadConfig({ FACEPIPE_MODEL_MANIFEST: path.join(dir, 'm.json') })).toMatchObject({ modelManifest: path.join(dir, 'm.json'), defaultThreshold: 0.41 });
      writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ ...manifest, embedder: { ...manifest.embedder, threshold: 'high' } }));
      for (const [file, why] of [[path.join(dir, 'missing.json'), /FACEPIPE_MODEL_MANIFEST cannot be read as JSON/], [path.join(dir, 'bad.json'), /FACEPIPE_MODEL_MANIFEST .*has no embedder.threshold/]] as const) {
        expect(() => loadConfig({ FACEPIPE_MODEL_MANIFEST: file })).toThrow(why);
      }
      expect(() => loadConfig({ FACEPIPE_MIN_FACE_SIZE: 'abc' })).toThrow(/FACEPIPE_MIN_FACE_SIZE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('treats empty values as unset', () => {
    const config = loadConfig({ PORT: '', FACEPIPE_API_KEY: '', FACEPIPE_PATH_ROOTS: ' ' });
    expect(config.port).toBe(3000);
    expect(config).not.toHaveProperty('apiKey');
    expect(config.pathRoots).toEqual([]);
  });

  it.each([
    ['PORT', 'eighty'],
    ['FACEPIPE_THREADS', '0'],
    ['FACEPIPE_INDEX_EF', '0'],
    ['FACEPIPE_INDEX_EF', '12.5'],
    ['FACEPIPE_EXECUTION_PROVIDER', 'tpu'],
    ['PORT', '70000'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['REDIS_URL', 'not a url'],
    ['FACEPIPE_PREFIX', 'bad prefix!'],
    ['FACEPIPE_PATH_ROOTS', '/ok,relative/dir'],
    ['FACEPIPE_ALLOW_PRIVATE_URLS', 'yes please'],
    ['FACEPIPE_MAX_PHOTO_BYTES', '0'],
    ['FACEPIPE_MAX_PHOTO_BYTES', '1.5'],
    ['FACEPIPE_FETCH_TIMEOUT_MS', '-1'],
    ['FACEPIPE_METRICS_PORT', '65536'],
    ['FACEPIPE_EMBED_BATCH', '0'],
    ['FACEPIPE_EMBED_BATCH_WAIT_MS', 'soon'],
    ['FACEPIPE_CLUSTER_THRESHOLD', '1.5'],
    ['FACEPIPE_CLUSTER_THRESHOLD', 'abc'],
    ['FACEPIPE_CONCURRENCY', '-2'],
    ['FACEPIPE_SYNC_TIMEOUT_MS', '0'],
    ['FACEPIPE_ENROLL_MIN_QUALITY', '1.2'],
    ['FACEPIPE_JOB_RETENTION_DAYS', '1'],
    ['FACEPIPE_JOB_RETENTION_DAYS', '2.5'],
    ['FACEPIPE_JOB_RETENTION_DAYS', '-7'],
    ['FACE_INDEX', 'faiss'],
    ['QDRANT_URL', 'qdrant:6333'],
    ['QDRANT_URL', 'grpc://qdrant:6334'],
    ['QDRANT_URL', 'http://admin:secret@qdrant:6333'],
  ])('%s=%j throws a ConfigError naming the variable', (variable, value) => {
    let error: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message).toContain(variable);
  });

  it('selects the Qdrant face index only with a URL, the API key being optional', () => {
    expect(loadConfig({ FACE_INDEX: 'qdrant', QDRANT_URL: 'http://qdrant:6333' }).faceIndex).toEqual({ backend: 'qdrant', url: 'http://qdrant:6333' });
    // The Qdrant settings are ignored by the embedded index (compose files set them for every app).
    expect(loadConfig({ FACE_INDEX: 'embedded', QDRANT_URL: 'http://qdrant:6333' }).faceIndex).toEqual({ backend: 'embedded' });
    for (const env of [{ FACE_INDEX: 'qdrant' }, { FACE_INDEX: 'qdrant', QDRANT_URL: ' ', QDRANT_API_KEY: 'k' }]) {
      let error: ConfigError | undefined;
      try {
        loadConfig(env);
      } catch (err) {
        error = err as ConfigError;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect(error?.issues).toEqual([{ variable: 'QDRANT_URL', message: 'is required when FACE_INDEX=qdrant' }]);
    }
  });

  it('never echoes the Qdrant URL or API key', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ FACE_INDEX: 'qdrant', QDRANT_URL: 'http://admin:hunter2@qdrant:6333', QDRANT_API_KEY: 'k3y' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.issues.map((i) => i.variable)).toEqual(['QDRANT_URL']); // one issue: malformed, not also "required"
    expect(error?.message).not.toContain('hunter2');
    expect(error?.message).not.toContain('k3y');
  });

  it('reports all bad variables at once and never echoes secrets', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'x', FACEPIPE_EMBED_BATCH: 'y', REDIS_URL: 'http://user:hunter2@host' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.issues.map((i) => i.variable)).toEqual(['PORT', 'REDIS_URL', 'FACEPIPE_EMBED_BATCH']);
    expect(error?.message).not.toContain('hunter2');
  });
});
