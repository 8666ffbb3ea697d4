import { Controller, Get, HttpCode, Param, Post, Query, Req, UploadedFiles, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { JobView, PhotoResult } from '@facepipe/contracts';
import type { Request } from 'express';
import { Access } from '../access/access.decorator';
import { Accepts, ContentTypeGuard } from '../common/content-type.guard';
import { API_KEY_SECURITY, ERROR_SCHEMA } from '../common/openapi';
import { openApiSchema, parseWith } from '../common/zod';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import type { UploadedPhoto } from './blob-storage.engine';
import {
  MULTIPART_BODY_SCHEMA,
  addPhotosSchema,
  jobViewSchema,
  resultsPageSchema,
  resultsQuerySchema,
  submitPhotosSchema,
  submitResponseSchema,
} from './jobs.schemas';
import { JobsService } from './jobs.service';
import { type SubmissionMode, type Submission, parseJsonSubmission, parseMultipartSubmission, sourcePolicy } from './photo-submission';
import { PhotoUploadInterceptor } from './photo-upload.interceptor';
import { CollectionExistsGuard, OpenJobGuard } from './submission.guards';

const SUBMIT_RESPONSES = [
  { status: 400, description: 'VALIDATION_FAILED, TOO_MANY_ITEMS, INVALID_PHOTO_KEY, DUPLICATE_KEY, PATH_NOT_ALLOWED, URL_NOT_ALLOWED, WEBHOOK_URL_NOT_ALLOWED, INVALID_JSON, INVALID_MULTIPART' },
  { status: 413, description: 'PHOTO_TOO_LARGE, PAYLOAD_TOO_LARGE' },
  { status: 415, description: 'UNSUPPORTED_MEDIA_TYPE: send application/json or multipart/form-data' },
] as const;

function requestBody(jsonSchema: Record<string, unknown>) {
  return {
    required: true,
    content: {
      'application/json': { schema: jsonSchema },
      'multipart/form-data': { schema: MULTIPART_BODY_SCHEMA },
    },
  };
}

@ApiTags('jobs')
@ApiSecurity(API_KEY_SECURITY)
@Controller('v1')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {}

  @Post('collections/:name/photos')
  @Access('write', { collection: 'name' })
  @HttpCode(202)
  @Accepts('application/json', 'multipart/form-data')
  @UseGuards(ContentTypeGuard, CollectionExistsGuard)
  @UseInterceptors(PhotoUploadInterceptor)
  @ApiOperation({
    summary: 'Submit photos to a collection as a new batch job',
    description:
      'Multipart: one or more files in the `photos` field (each file name is its key), optional `webhookUrl`, `webhookSecret`, `seal`. ' +
      'JSON: up to 10,000 items, each an http(s) `url` or a server-side `path` under FACEPIPE_PATH_ROOTS, with an optional `key`. ' +
      'With `seal: false` the job stays open for POST /v1/jobs/{id}/photos.',
    requestBody: requestBody(openApiSchema(submitPhotosSchema, 'input')),
  })
  @ApiParam({ name: 'name', schema: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' } })
  @ApiResponse({ status: 202, schema: openApiSchema(submitResponseSchema) })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND', schema: ERROR_SCHEMA })
  @ApiResponse({ ...SUBMIT_RESPONSES[0], schema: ERROR_SCHEMA })
  @ApiResponse({ ...SUBMIT_RESPONSES[1], schema: ERROR_SCHEMA })
  @ApiResponse({ ...SUBMIT_RESPONSES[2], schema: ERROR_SCHEMA })
  submit(@Param('name') name: string, @Req() req: Request, @UploadedFiles() files: UploadedPhoto[] | undefined): Promise<{ jobId: string }> {
    return this.jobs.submit(name, this.parse(req, files, 'create'));
  }

  @Post('jobs/:id/photos')
  @Access('write', { job: 'id' })
  @HttpCode(202)
  @Accepts('application/json', 'multipart/form-data')
  @UseGuards(ContentTypeGuard, OpenJobGuard)
  @UseInterceptors(PhotoUploadInterceptor)
  @ApiOperation({
    summary: 'Add photos to an open (unsealed) job',
    description: 'Same bodies as the collection route, without a webhook; `seal` defaults to false here.',
    requestBody: requestBody(openApiSchema(addPhotosSchema, 'input')),
  })
  @ApiResponse({ status: 202, schema: openApiSchema(submitResponseSchema) })
  @ApiResponse({ status: 404, description: 'JOB_NOT_FOUND', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 409, description: 'JOB_SEALED', schema: ERROR_SCHEMA })
  @ApiResponse({ ...SUBMIT_RESPONSES[0], schema: ERROR_SCHEMA })
  @ApiResponse({ ...SUBMIT_RESPONSES[1], schema: ERROR_SCHEMA })
  @ApiResponse({ ...SUBMIT_RESPONSES[2], schema: ERROR_SCHEMA })
  add(@Param('id') id: string, @Req() req: Request, @UploadedFiles() files: UploadedPhoto[] | undefined): Promise<{ jobId: string }> {
    return this.jobs.add(id, this.parse(req, files, 'add'));
  }

  @Post('jobs/:id/seal')
  @Access('write', { job: 'id' })
  @HttpCode(200)
  @ApiOperation({ summary: 'Seal a job: no more photos; it completes (and fires its webhook) once every photo has settled' })
  @ApiResponse({ status: 200, schema: openApiSchema(jobViewSchema) })
  @ApiResponse({ status: 404, description: 'JOB_NOT_FOUND', schema: ERROR_SCHEMA })
  seal(@Param('id') id: string): Promise<JobView> {
    return this.jobs.seal(id);
  }

  @Get('jobs/:id')
  @Access('read', { job: 'id' })
  @ApiOperation({ summary: 'A batch job: state and counts, and its webhook deliveries' })
  @ApiResponse({ status: 200, schema: openApiSchema(jobViewSchema) })
  @ApiResponse({ status: 404, description: 'JOB_NOT_FOUND', schema: ERROR_SCHEMA })
  get(@Param('id') id: string): Promise<JobView> {
    return this.jobs.get(id);
  }

  @Get('jobs/:id/results')
  @Access('read', { job: 'id' })
  @ApiOperation({ summary: 'Per-photo results of a job, in submission order, a page at a time' })
  @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string' }, description: '`next` of the previous page' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } })
  @ApiResponse({ status: 200, schema: openApiSchema(resultsPageSchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED, INVALID_CURSOR', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 404, description: 'JOB_NOT_FOUND', schema: ERROR_SCHEMA })
  results(@Param('id') id: string, @Query() query: unknown): Promise<{ items: PhotoResult[]; next?: string }> {
    const { cursor, limit } = parseWith(resultsQuerySchema, query);
    return this.jobs.results(id, { cursor, limit });
  }

  private parse(req: Request, files: UploadedPhoto[] | undefined, mode: SubmissionMode): Submission {
    const policy = sourcePolicy(this.config, req);
    return req.is('multipart/form-data')
      ? parseMultipartSubmission(files, req.body, mode, policy)
      : parseJsonSubmission(req.body, mode, policy);
  }
}
