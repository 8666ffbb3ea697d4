import { enrollPhotoKey, isSyncJob, syncDetectJobSchema, syncRequestSchema } from './requests';

describe('synchronous requests', () => {
  const source = { kind: 'blob' as const, blobId: 'a'.repeat(64) };

  it('parses each call and refuses a malformed one', () => {
    for (const request of [
      { id: 'r1', op: 'detect' },
      { id: 'r1', op: 'verify', b: { kind: 'url', url: 'https://example.com/b.jpg' }, threshold: 0.34 },
      { id: 'r1', op: 'search', k: 5, threshold: 0.5, exact: false },
      { id: 'r1', op: 'enroll', identityId: 'i' + '0'.repeat(24), all: true, minQuality: 0.2 },
    ]) {
      expect(syncRequestSchema.parse(request)).toEqual(request);
    }
    expect(syncRequestSchema.safeParse({ id: 'r1', op: 'search', k: 0, threshold: 0.5, exact: false }).success).toBe(false);
    expect(syncRequestSchema.safeParse({ id: 'r1', op: 'verify', threshold: 0.3 }).success).toBe(false); // no b
    expect(syncRequestSchema.safeParse({ id: 'r1', op: 'explode' }).success).toBe(false);
  });

  it('tells a sync stage job from a batch photo', () => {
    const photo = { jobId: 'j1', collection: 'c', key: 'a.jpg', source };
    const call = syncDetectJobSchema.parse({ jobId: 'r1', collection: '', key: 'sync', source, request: { id: 'r1', op: 'detect' } });
    expect(isSyncJob(photo)).toBe(false);
    expect(isSyncJob(call)).toBe(true);
  });

  it('keys an enrolled photo per identity and photo, so enrolling it again replaces its faces', () => {
    expect(enrollPhotoKey('i1', 'abc')).toBe(enrollPhotoKey('i1', 'abc'));
    expect(enrollPhotoKey('i1', 'abc')).not.toBe(enrollPhotoKey('i2', 'abc'));
  });
});
