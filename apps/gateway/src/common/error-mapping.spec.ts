import { PipelineError } from '@facepipe/pipeline';
import { BadRequestException, NotFoundException } from '@nestjs/common';
import { z } from 'zod';
import { ApiError } from './api-error';
import { GatewayLogger } from './gateway-logger';
import { mapError } from './error-mapping';
import { mapUploadError } from '../jobs/photo-upload.interceptor';

describe('mapUploadError', () => {
  it('answers an upload the client abandoned as 400 REQUEST_ABORTED, not a 500', () => {
    expect(mapError(mapUploadError(new Error('Request aborted'), 1, 'photos'))).toMatchObject({ status: 400, body: { error: { code: 'REQUEST_ABORTED' } }, unexpected: false });
  });

  it('answers a full disk as 507 STORAGE_FULL naming the cause, and logs it', () => {
    for (const code of ['ENOSPC', 'EDQUOT']) {
      const lines: string[] = [];
      const full = Object.assign(new Error(`${code}: no space left on device, write`), { code });
      const mapped = mapUploadError(full, 1, 'photos', new GatewayLogger('gateway', { write: (line) => lines.push(line) }));
      expect(mapError(mapped)).toMatchObject({ status: 507, body: { error: { code: 'STORAGE_FULL', message: expect.stringContaining(code) } } });
      expect(lines).toEqual([expect.stringContaining(`no space left on device`)]);
    }
  });
});

describe('mapError', () => {
  it('passes typed errors through with their code', () => {
    expect(mapError(new ApiError(409, 'COLLECTION_EXISTS', 'exists'))).toEqual({ status: 409, body: { error: { code: 'COLLECTION_EXISTS', message: 'exists' } }, unexpected: false });
    expect(mapError(new PipelineError('JOB_SEALED', 'sealed'))).toMatchObject({ status: 409, body: { error: { code: 'JOB_SEALED' } } });
  });

  it('names the field of a zod failure', () => {
    const result = z.object({ items: z.array(z.object({ path: z.string() })) }).safeParse({ items: [{ path: 'a' }, { path: 3 }] });
    expect(mapError(result.error)).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED', field: 'items.1.path', message: expect.stringMatching(/^items\.1\.path: /) } } });
  });

  it('says "a finite number" for a JSON number past the double range (it parses as Infinity)', () => {
    const result = z.object({ threshold: z.number() }).safeParse(JSON.parse('{"threshold": 1e400}'));
    expect(mapError(result.error)).toMatchObject({ body: { error: { code: 'VALIDATION_FAILED', field: 'threshold', message: 'threshold: must be a finite number' } } });
    const text = z.object({ threshold: z.number() }).safeParse({ threshold: 'x' });
    expect(mapError(text.error)).toMatchObject({ body: { error: { message: expect.stringContaining('received string') } } });
  });

  it('maps body-parser errors', () => {
    expect(mapError(Object.assign(new SyntaxError('Unexpected token'), { type: 'entity.parse.failed', status: 400 }))).toMatchObject({ status: 400, body: { error: { code: 'INVALID_JSON' } } });
    expect(mapError(Object.assign(new Error('too large'), { type: 'entity.too.large', status: 413 }))).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
    expect(mapError(Object.assign(new Error('bad charset'), { type: 'charset.unsupported', status: 415 }))).toMatchObject({ status: 415, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
  });

  it('maps NestJS HTTP exceptions by status', () => {
    expect(mapError(new NotFoundException('Cannot GET /x'))).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'Cannot GET /x' } } });
    expect(mapError(new BadRequestException(['a', 'b']))).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST', message: 'a; b' } } });
  });

  it('answers anything else 500 INTERNAL_ERROR without details', () => {
    const mapped = mapError(new Error('secret connection string redis://:pw@host'));
    expect(mapped).toEqual({ status: 500, body: { error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } }, unexpected: true });
    expect(mapError('a string')).toMatchObject({ status: 500 });
  });
});
