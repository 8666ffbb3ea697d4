import { ApiError } from '../common/api-error';
import { checkPath, isWithin, parseJsonSubmission, parseMultipartSubmission } from './photo-submission';
import type { UploadedPhoto } from './blob-storage.engine';

const policy = { pathRoots: ['/srv/photos', '/mnt/archive'], allowPrivateUrls: false };

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('checkPath', () => {
  it('accepts absolute paths inside a root, normalised', () => {
    expect(checkPath('/srv/photos/a.jpg', policy.pathRoots, 'p')).toBe('/srv/photos/a.jpg');
    expect(checkPath('/srv/photos/x/../y/./b.jpg', policy.pathRoots, 'p')).toBe('/srv/photos/y/b.jpg');
    expect(checkPath('/mnt/archive/2019/c.jpg', policy.pathRoots, 'p')).toBe('/mnt/archive/2019/c.jpg');
  });

  it.each(['/srv/photos/../secret', '/srv/photos', '/srv/photos-other/a.jpg', '/etc/passwd', 'srv/photos/a.jpg', '/srv/photos/a\0.jpg', '/srv/photos/..'])(
    'refuses %j',
    (p) => {
      const err = apiError(() => checkPath(p, policy.pathRoots, 'items.0.path'));
      expect(err).toMatchObject({ status: 400, code: 'PATH_NOT_ALLOWED', field: 'items.0.path' });
    },
  );

  it('refuses everything without roots', () => {
    expect(apiError(() => checkPath('/srv/photos/a.jpg', [], 'p')).code).toBe('PATH_NOT_ALLOWED');
  });

  it('isWithin is strict about prefixes', () => {
    expect(isWithin('/a/b/c', '/a/b')).toBe(true);
    expect(isWithin('/a/bc', '/a/b')).toBe(false);
    expect(isWithin('/a/b', '/a/b')).toBe(false);
    expect(isWithin('/a/..b/c', '/a')).toBe(true); // a directory named "..b" is inside
  });
});

describe('parseJsonSubmission', () => {
  it('derives missing keys from the url or path and defaults seal to true (create) / false (add)', () => {
    const s = parseJsonSubmission({ items: [{ url: 'https://e.com/a.jpg' }, { path: '/srv/photos/b.jpg', key: 'bee' }] }, 'create', policy);
    expect(s).toEqual({
      photos: [
        { key: 'https://e.com/a.jpg', source: { kind: 'url', url: 'https://e.com/a.jpg' } },
        { key: 'bee', source: { kind: 'path', path: '/srv/photos/b.jpg' } },
      ],
      webhook: undefined,
      seal: true,
    });
    expect(parseJsonSubmission({ items: [{ url: 'https://e.com/a.jpg' }] }, 'add', policy).seal).toBe(false);
  });

  it('keeps the webhook secret for the job store and checks the webhook URL', () => {
    const s = parseJsonSubmission({ items: [{ url: 'https://e.com/a.jpg' }], webhook: { url: 'https://hooks.example.com/x', secret: 's' } }, 'create', policy);
    expect(s.webhook).toEqual({ url: 'https://hooks.example.com/x', secret: 's' });
    for (const url of ['http://127.0.0.1/x', 'http://[fe80::1]/x', 'http://0x7f000001/x', 'http://2130706433/x', 'http://metadata.localhost/x', 'javascript:alert(1)']) {
      expect(apiError(() => parseJsonSubmission({ items: [{ url: 'https://e.com/a.jpg' }], webhook: { url } }, 'create', policy)).code).toBe(
        'WEBHOOK_URL_NOT_ALLOWED',
      );
    }
    const allowed = parseJsonSubmission({ items: [{ url: 'http://127.0.0.1/a.jpg' }], webhook: { url: 'http://127.0.0.1:9/x' } }, 'create', { ...policy, allowPrivateUrls: true });
    expect(allowed.webhook?.url).toBe('http://127.0.0.1:9/x');
  });

  it('refuses a key longer than 512 characters, e.g. one derived from a long URL', () => {
    const url = `https://e.com/${'x'.repeat(600)}.jpg`;
    expect(apiError(() => parseJsonSubmission({ items: [{ url }] }, 'create', policy))).toMatchObject({ code: 'INVALID_PHOTO_KEY', field: 'items.0.url' });
    expect(parseJsonSubmission({ items: [{ url, key: 'short' }] }, 'create', policy).photos[0].key).toBe('short');
  });
});

describe('parseMultipartSubmission', () => {
  const file = (name: string, blobId = 'a'.repeat(64)) => ({ originalname: name, blobId }) as UploadedPhoto;

  it('uses file names as keys and reads the text fields', () => {
    const s = parseMultipartSubmission([file('2019/a.jpg'), file('b.jpg', 'b'.repeat(64))], { webhookUrl: 'https://h.example.com/x', seal: 'false' }, 'create', policy);
    expect(s).toEqual({
      photos: [
        { key: '2019/a.jpg', source: { kind: 'blob', blobId: 'a'.repeat(64) } },
        { key: 'b.jpg', source: { kind: 'blob', blobId: 'b'.repeat(64) } },
      ],
      webhook: { url: 'https://h.example.com/x' },
      seal: false,
    });
  });

  it('refuses unknown fields, a secret without a URL, and a webhook when adding', () => {
    expect(() => parseMultipartSubmission([file('a.jpg')], { other: 'x' }, 'create', policy)).toThrow();
    expect(apiError(() => parseMultipartSubmission([file('a.jpg')], { webhookSecret: 's' }, 'create', policy)).field).toBe('webhookSecret');
    expect(apiError(() => parseMultipartSubmission([file('a.jpg')], { webhookUrl: 'https://h.example.com' }, 'add', policy)).field).toBe('webhookUrl');
  });
});
