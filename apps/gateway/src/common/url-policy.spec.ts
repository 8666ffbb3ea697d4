import { ApiError } from './api-error';
import { checkPhotoUrl, checkWebhookUrl } from './url-policy';

/** The code checkX throws for `url`, or 'accepted'. */
function outcome(check: typeof checkPhotoUrl, url: string, allowPrivate = false): string {
  try {
    check(url, allowPrivate, 'f');
    return 'accepted';
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    expect(err.status).toBe(400);
    expect(err.field).toBe('f');
    return err.code;
  }
}

// What the submit-time check can see: the URL's own host. Names that only resolve to a private
// address are refused at connect time (photo-fetcher.ssrf.spec.ts, webhook-ssrf.spec.ts).
const REFUSED = [
  'http://127.0.0.1/x',
  'http://127.0.0.1./x',
  'http://localhost/x',
  'http://localhost./x',
  'http://LOCALHOST:8080/x',
  'http://api.localhost/x',
  'http://ｌｏｃａｌｈｏｓｔ/x',
  'http://[::1]/x',
  'http://[0:0:0:0:0:0:0:1]/x',
  'http://[::ffff:127.0.0.1]/x',
  'http://[::ffff:169.254.169.254]/x',
  'http://[fe80::1]/x',
  'http://[fc00::1]/x',
  'http://[fd00:ec2::254]/x',
  'http://[64:ff9b::10.0.0.1]/x',
  'http://[64:ff9b::7f00:1]/x',
  'http://[::]/x',
  'http://2130706433/x',
  'http://0x7f000001/x',
  'http://0177.0.0.1/x',
  'http://127.1/x',
  'http://0/x',
  'http://10.0.0.1/x',
  'http://172.16.0.1/x',
  'http://192.168.1.1/x',
  'http://100.64.0.1/x',
  'http://169.254.169.254/latest/meta-data/',
  'http://user:pass@127.0.0.1/x',
  'file:///etc/passwd',
  'ftp://example.com/x',
  'gopher://example.com/x',
  'javascript:alert(1)',
  'data:image/png;base64,AAAA',
  'not a url',
  'http://[fe80::1%25eth0]/x',
];

describe.each([
  ['checkPhotoUrl', checkPhotoUrl, 'URL_NOT_ALLOWED'],
  ['checkWebhookUrl', checkWebhookUrl, 'WEBHOOK_URL_NOT_ALLOWED'],
])('%s', (_name, check, code) => {
  it.each(REFUSED)(`refuses %s with 400 ${code}`, (url) => {
    expect(outcome(check, url)).toBe(code);
  });

  it.each(['https://photos.example.com/a.jpg', 'http://8.8.8.8/x', 'http://[2606:4700::1]/x', 'http://[::ffff:8.8.8.8]/x'])('accepts %s', (url) => {
    expect(outcome(check, url)).toBe('accepted');
  });

  it('accepts private hosts only with FACEPIPE_ALLOW_PRIVATE_URLS, and never other schemes', () => {
    expect(outcome(check, 'http://127.0.0.1:9/x', true)).toBe('accepted');
    expect(outcome(check, 'http://[::1]/x', true)).toBe('accepted');
    expect(outcome(check, 'file:///etc/passwd', true)).toBe(code);
  });
});
