import { DEFAULT_MATCH_THRESHOLD, type DetectResult, type SearchResult, type VerifyResult } from '@facepipe/contracts';
import { Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { Access } from '../access/access.decorator';
import { CollectionsService } from '../collections/collections.service';
import { API_KEY_SECURITY, ERROR_SCHEMA } from '../common/openapi';
import { openApiSchema, parseWith } from '../common/zod';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import { sourcePolicy } from '../jobs/photo-submission';
import { CollectionExistsGuard, checkedCollection } from '../jobs/submission.guards';
import {
  DEFAULT_SEARCH_K,
  MULTIPART_PHOTO_SCHEMA,
  detectResultSchema,
  noFieldsSchema,
  photoJsonSchema,
  photoSource,
  refuseOtherFiles,
  searchFieldsSchema,
  searchJsonSchema,
  searchResultSchema,
  verifyFieldsSchema,
  verifyJsonSchema,
  verifyResultSchema,
} from './recognition.schemas';
import { SyncCalls } from './sync-calls.service';
import { SyncPhotoRoute } from './sync-upload.interceptor';

const INPUT_ERRORS = [
  { status: 400, description: 'VALIDATION_FAILED, INVALID_MULTIPART, INVALID_JSON, PATH_NOT_ALLOWED, URL_NOT_ALLOWED (also a symlink out of a root, a name resolving to a private address)' },
  { status: 413, description: 'PHOTO_TOO_LARGE, IMAGE_TOO_LARGE' },
  { status: 415, description: 'UNSUPPORTED_MEDIA_TYPE (the request), UNSUPPORTED_IMAGE_FORMAT (the photo)' },
  { status: 429, description: 'RATE_LIMITED' },
  { status: 502, description: "URL_FETCH_FAILED: the URL's server failed, or did not answer within the call's time" },
  { status: 504, description: 'REQUEST_TIMEOUT: the workers did not answer within FACEPIPE_SYNC_TIMEOUT_MS' },
] as const;

function ApiInputErrors(unprocessable: string): MethodDecorator {
  return (target, key, descriptor) => {
    for (const r of INPUT_ERRORS) ApiResponse({ ...r, schema: ERROR_SCHEMA })(target, key, descriptor);
    ApiResponse({ status: 422, description: unprocessable, schema: ERROR_SCHEMA })(target, key, descriptor);
  };
}

function photoBody(json: Record<string, unknown>, multipart: Record<string, unknown>) {
  return { required: true, content: { 'application/json': { schema: json }, 'multipart/form-data': { schema: multipart } } };
}

/**
 * The synchronous recognition calls: 1:N search in a collection, 1:1 verify and detect. Each goes
 * through the pipeline's queues at PRIORITY.sync and waits for its answer (SyncCalls); the photos
 * sent are deleted once answered (SyncUploadInterceptor).
 */
@ApiTags('recognition')
@ApiSecurity(API_KEY_SECURITY)
@Controller('v1')
export class RecognitionController {
  constructor(
    private readonly sync: SyncCalls,
    private readonly collections: CollectionsService,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {}

  @Post('collections/:name/search')
  @Access('read', { collection: 'name' })
  @HttpCode(200)
  @SyncPhotoRoute(CollectionExistsGuard)
  @ApiOperation({
    summary: "1:N search: every face of the photo against the collection's identities",
    description:
      'Multipart with the file in `photo` (text fields `k`, `threshold`, `exact`), or JSON `{"url"|"path", "k"?, "threshold"?, "exact"?}`. ' +
      `For each face, the top \`k\` identities (default ${DEFAULT_SEARCH_K}), each at the similarity of its closest enrolled face, and \`match\`: the best one if its similarity reaches the ` +
      "threshold (the request's, else the collection's), else null. A photo without faces answers `faces: []`. `exact: true` scans every enrolled vector instead of the HNSW index.",
    requestBody: photoBody(openApiSchema(searchJsonSchema, 'input'), {
      ...MULTIPART_PHOTO_SCHEMA,
      properties: { ...MULTIPART_PHOTO_SCHEMA.properties, k: { type: 'integer' }, threshold: { type: 'number' }, exact: { type: 'boolean' } },
    }),
  })
  @ApiParam({ name: 'name', schema: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' } })
  @ApiResponse({ status: 200, schema: openApiSchema(searchResultSchema) })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND', schema: ERROR_SCHEMA })
  @ApiInputErrors('IMAGE_DECODE_FAILED, IMAGE_EMPTY')
  async search(@Param('name') name: string, @Req() req: Request): Promise<SearchResult> {
    let params: { k: number; threshold?: number; exact: boolean };
    let json: { url?: string; path?: string } | undefined;
    if (req.is('multipart/form-data')) {
      refuseOtherFiles(req, ['photo']);
      const f = parseWith(searchFieldsSchema, { ...(req.body as object) });
      params = { k: f.k ?? DEFAULT_SEARCH_K, threshold: f.threshold, exact: f.exact ?? false };
    } else {
      json = parseWith(searchJsonSchema, req.body);
      params = json as typeof params;
    }
    const source = photoSource(req, 'photo', json, sourcePolicy(this.config, req));
    const threshold = params.threshold ?? (await this.collections.matchThreshold(name, checkedCollection(req)));
    return this.sync.run({ collection: name, source, request: { op: 'search', k: params.k, threshold, exact: params.exact } });
  }

  @Post('verify')
  @Access('read')
  @HttpCode(200)
  @SyncPhotoRoute()
  @ApiOperation({
    summary: '1:1 verify: are the largest faces of photos a and b the same person?',
    description:
      `Multipart with files \`a\` and \`b\` (text field \`threshold\`), or JSON \`{"a": {"url"|"path"}, "b": {…}, "threshold"?}\`. Default threshold: the model manifest's (${DEFAULT_MATCH_THRESHOLD} for the built-in models). ` +
      'The largest face of each photo is compared; `faces` says how many each had. 422 NO_FACE when a photo has none.',
    requestBody: photoBody(openApiSchema(verifyJsonSchema, 'input'), {
      type: 'object',
      required: ['a', 'b'],
      properties: { a: { type: 'string', format: 'binary' }, b: { type: 'string', format: 'binary' }, threshold: { type: 'number' } },
    }),
  })
  @ApiResponse({ status: 200, schema: openApiSchema(verifyResultSchema) })
  @ApiInputErrors('NO_FACE, IMAGE_DECODE_FAILED, IMAGE_EMPTY')
  async verify(@Req() req: Request): Promise<VerifyResult> {
    let threshold: number | undefined;
    let refs: { a?: { url?: string; path?: string }; b?: { url?: string; path?: string } } = {};
    if (req.is('multipart/form-data')) {
      refuseOtherFiles(req, ['a', 'b']);
      threshold = parseWith(verifyFieldsSchema, { ...(req.body as object) }).threshold;
    } else {
      const body = parseWith(verifyJsonSchema, req.body);
      threshold = body.threshold;
      refs = body;
    }
    const policy = sourcePolicy(this.config, req);
    const a = photoSource(req, 'a', refs.a, policy, 'a');
    const b = photoSource(req, 'b', refs.b, policy, 'b');
    return this.sync.run({ source: a, request: { op: 'verify', b, threshold: threshold ?? this.config.defaultThreshold } });
  }

  @Post('detect')
  @Access('read')
  @HttpCode(200)
  @SyncPhotoRoute()
  @ApiOperation({
    summary: 'Faces of a photo: boxes, five landmarks, quality',
    description: 'Multipart with the file in `photo`, or JSON `{"url"}` / `{"path"}`. Coordinates are pixels of the photo as displayed (after EXIF orientation).',
    requestBody: photoBody(openApiSchema(photoJsonSchema, 'input'), MULTIPART_PHOTO_SCHEMA),
  })
  @ApiResponse({ status: 200, schema: openApiSchema(detectResultSchema) })
  @ApiInputErrors('IMAGE_DECODE_FAILED, IMAGE_EMPTY')
  async detect(@Req() req: Request): Promise<DetectResult> {
    let json: { url?: string; path?: string } | undefined;
    if (req.is('multipart/form-data')) {
      refuseOtherFiles(req, ['photo']);
      parseWith(noFieldsSchema, { ...(req.body as object) });
    } else {
      json = parseWith(photoJsonSchema, req.body);
    }
    return this.sync.run({ source: photoSource(req, 'photo', json, sourcePolicy(this.config, req)), request: { op: 'detect' } });
  }
}
