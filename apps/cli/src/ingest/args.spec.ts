import { UsageError } from '../arg-parsing';
import { DEFAULT_SERVER, parseIngestArgs, resumeCommand } from './args';

describe('parseIngestArgs', () => {
  it('takes DIR and --collection, with defaults', () => {
    expect(parseIngestArgs(['photos', '--collection', 'family'], {})).toEqual({
      dir: 'photos',
      collection: 'family',
      server: DEFAULT_SERVER,
      mode: 'auto',
      webhook: undefined,
      stateFile: undefined,
      apiKey: undefined,
      argv: ['photos', '--collection', 'family'],
    });
  });

  it('reads FACEPIPE_SERVER and FACEPIPE_API_KEY; options win', () => {
    const env = { FACEPIPE_SERVER: 'http://gw:8080/', FACEPIPE_API_KEY: 'secret' };
    expect(parseIngestArgs(['d', '--collection', 'c'], env)).toMatchObject({ server: 'http://gw:8080', apiKey: 'secret' });
    expect(parseIngestArgs(['d', '--collection', 'c', '--server', 'https://x', '--api-key', 'k2'], env)).toMatchObject({ server: 'https://x', apiKey: 'k2' });
  });

  it('takes every option', () => {
    const o = parseIngestArgs(['d', '--collection=c', '--mode', 'upload', '--webhook', 'https://hook.example/x', '--webhook-secret', 'shh', '--state', 's.jsonl'], {});
    expect(o).toMatchObject({ mode: 'upload', webhook: 'https://hook.example/x', webhookSecret: 'shh', stateFile: 's.jsonl' });
    // The secret from the environment (out of `ps`), only with a webhook to sign.
    expect(parseIngestArgs(['d', '--collection', 'c', '--webhook', 'https://h/x'], { FACEPIPE_WEBHOOK_SECRET: 'env' })).toMatchObject({ webhookSecret: 'env' });
    expect(parseIngestArgs(['d', '--collection', 'c'], { FACEPIPE_WEBHOOK_SECRET: 'env' })).not.toHaveProperty('webhookSecret');
    expect(parseIngestArgs(['--help'], {})).toBeNull();
  });

  it.each([
    [[], /needs a folder/],
    [['d'], /needs --collection/],
    [['d', 'e', '--collection', 'c'], /one folder/],
    [['d', '--collection', 'c', '--mode', 'fast'], /--mode must be auto, path or upload/],
    [['d', '--collection', 'c', '--server', 'localhost:3000'], /--server must be an http\(s\) URL/],
    [['d', '--collection', 'c', '--webhook', 'ftp://x'], /--webhook must be an http\(s\) URL/],
    [['d', '--collection', 'c', '--frobnicate'], /Unknown option/],
    [['d', '--collection', 'c', '--webhook-secret', 's'], /give that too/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseIngestArgs(argv as string[], {})).toThrow(UsageError);
    expect(() => parseIngestArgs(argv as string[], {})).toThrow(message as RegExp);
  });
});

describe('resumeCommand', () => {
  it('repeats the command, quoted for a shell, never the API key', () => {
    expect(resumeCommand(['my photos', '--collection', 'c', '--api-key', 's3cret', '--mode=upload'])).toBe("facepipe ingest 'my photos' --collection c --api-key KEY --mode=upload");
    expect(resumeCommand(["it's", '--api-key=s3cret'])).toBe("facepipe ingest 'it'\\''s' --api-key KEY");
    expect(resumeCommand(['d', '--webhook', 'https://h/x', '--webhook-secret', 'shh', '--webhook-secret=shh2'])).toBe('facepipe ingest d --webhook https://h/x --webhook-secret SECRET --webhook-secret SECRET');
  });
});
