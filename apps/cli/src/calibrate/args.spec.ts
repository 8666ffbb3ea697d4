import { UsageError } from '../arg-parsing';
import { parseCalibrateArgs } from './args';

describe('parseCalibrateArgs', () => {
  it('has defaults: FAR 1e-3, 2,000,000 impostor pairs, text, no --apply', () => {
    expect(parseCalibrateArgs(['faces'], {})).toEqual({
      dir: 'faces', far: 1e-3, maxImpostors: 2_000_000, json: false, apply: undefined,
      threads: undefined, manifest: undefined, maxPixels: undefined, minFaceSize: undefined,
    });
  });

  it('reads the options, and the engine settings from the environment like the other commands', () => {
    const o = parseCalibrateArgs(['faces', '--far', '1e-4', '--max-impostors', '500', '--json', '--min-face', '40'], { FACEPIPE_THREADS: '3', FACEPIPE_MODEL_MANIFEST: 'm.json' });
    expect(o).toMatchObject({ far: 1e-4, maxImpostors: 500, json: true, minFaceSize: 40, threads: 3, manifest: 'm.json' });
  });

  it('takes --apply with the server and key from the options or the environment', () => {
    expect(parseCalibrateArgs(['d', '--apply', 'c'], {})!.apply).toEqual({ collection: 'c', server: 'http://127.0.0.1:3000', apiKey: undefined });
    expect(parseCalibrateArgs(['d', '--apply', 'c'], { FACEPIPE_SERVER: 'http://gw:8080/', FACEPIPE_API_KEY: 'env-key' })!.apply)
      .toEqual({ collection: 'c', server: 'http://gw:8080', apiKey: 'env-key' });
    expect(parseCalibrateArgs(['d', '--apply', 'c', '--server', 'https://x', '--api-key', 'k'], { FACEPIPE_API_KEY: 'env-key' })!.apply)
      .toEqual({ collection: 'c', server: 'https://x', apiKey: 'k' });
  });

  it('returns null for --help', () => {
    expect(parseCalibrateArgs(['--help'], {})).toBeNull();
  });

  it.each([
    [[], 'calibrate needs a folder'],
    [['a', 'b'], 'calibrate takes one folder, got 2'],
    [['d', '--far', '0'], '--far must be a number with 0 < F < 1 (e.g. 1e-3), got "0"'],
    [['d', '--far=-0.1'], 'got "-0.1"'],
    [['d', '--far', '1'], 'got "1"'],
    [['d', '--far', 'abc'], 'got "abc"'],
    [['d', '--far', ''], 'got ""'],
    [['d', '--far', 'Infinity'], 'got "Infinity"'],
    [['d', '--max-impostors', '1.5'], '--max-impostors must be an integer in [1, 50000000], got "1.5"'],
    [['d', '--apply', ''], '--apply needs a collection name'],
    [['d', '--api-key', 'k'], '--server and --api-key apply to --apply only'],
    [['d', '--apply', 'c', '--server', 'not a url'], '--server must be an http(s) URL, got "not a url"'],
    [['d', '--threads', '0'], '--threads must be an integer in [1, 256], got "0"'],
    [['d', '--frobnicate'], "Unknown option '--frobnicate'"],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseCalibrateArgs(argv, {})).toThrow(UsageError);
    expect(() => parseCalibrateArgs(argv, {})).toThrow(message);
  });
});
