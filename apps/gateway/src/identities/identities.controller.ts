import type { EnrollResult, IdentityRecord } from '@facepipe/contracts';
import { Body, type CanActivate, Controller, Delete, type ExecutionContext, Get, HttpCode, Injectable, Param, Patch, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { Access } from '../access/access.decorator';
import { Accepts, ContentTypeGuard } from '../common/content-type.guard';
import { API_KEY_SECURITY, ERROR_SCHEMA } from '../common/openapi';
import { openApiSchema, parseWith } from '../common/zod';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import { sourcePolicy } from '../jobs/photo-submission';
import { MULTIPART_PHOTO_SCHEMA, noFieldsSchema, photoJsonSchema, photoSource, refuseOtherFiles, enrollQuerySchema } from '../recognition/recognition.schemas';
import { SyncPhotoRoute } from '../recognition/sync-upload.interceptor';
import {
  type DeleteIdentityResponse,
  type IdentityPage,
  type IdentityWithFaces,
  createIdentitySchema,
  deleteIdentityQuerySchema,
  deleteIdentityResponseSchema,
  enrollResultSchema,
  identityPageSchema,
  identitySchema,
  identityWithFacesSchema,
  listIdentitiesQuerySchema,
  updateIdentitySchema,
} from './identities.schemas';
import { IdentitiesService } from './identities.service';

const COLLECTION_PARAM = { name: 'name', schema: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' } } as const;
const ID_PARAM = { name: 'id', schema: { type: 'string', pattern: '^i[0-9a-f]{24}$' } } as const;
const NOT_FOUND = { status: 404, description: 'COLLECTION_NOT_FOUND, IDENTITY_NOT_FOUND', schema: ERROR_SCHEMA } as const;
const TIMEOUT = { status: 504, description: 'REQUEST_TIMEOUT: the workers did not answer within FACEPIPE_SYNC_TIMEOUT_MS', schema: ERROR_SCHEMA } as const;

/** Before an upload is read: the collection and the identity must exist (the service checks again). */
@Injectable()
export class IdentityExistsGuard implements CanActivate {
  constructor(private readonly identities: IdentitiesService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const { params } = context.switchToHttp().getRequest<Request>();
    await this.identities.existing(String(params.name ?? ''), String(params.id ?? ''));
    return true;
  }
}

@ApiTags('identities')
@ApiSecurity(API_KEY_SECURITY)
@Controller('v1/collections/:name/identities')
export class IdentitiesController {
  constructor(
    private readonly identities: IdentitiesService,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {}

  @Post()
  @Access('write', { collection: 'name' })
  @HttpCode(201)
  @Accepts('application/json')
  @UseGuards(ContentTypeGuard)
  @ApiOperation({ summary: 'Create an identity (a named person); enrol its faces with POST …/identities/{id}/faces' })
  @ApiParam(COLLECTION_PARAM)
  @ApiBody({ schema: openApiSchema(createIdentitySchema, 'input') })
  @ApiResponse({ status: 201, schema: openApiSchema(identitySchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 409, description: 'EXTERNAL_ID_EXISTS: another identity of the collection has this externalId', schema: ERROR_SCHEMA })
  create(@Param('name') name: string, @Body() body: unknown): Promise<IdentityRecord> {
    return this.identities.create(name, parseWith(createIdentitySchema, body));
  }

  @Get()
  @Access('read', { collection: 'name' })
  @ApiOperation({ summary: 'Identities of a collection, by id, a page at a time; or the one with `externalId`' })
  @ApiParam(COLLECTION_PARAM)
  @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string' }, description: '`next` of the previous page' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } })
  @ApiQuery({ name: 'externalId', required: false, schema: { type: 'string' }, description: 'only the identity with this externalId (zero or one item)' })
  @ApiResponse({ status: 200, schema: openApiSchema(identityPageSchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED, INVALID_CURSOR', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND', schema: ERROR_SCHEMA })
  list(@Param('name') name: string, @Query() query: unknown): Promise<IdentityPage> {
    return this.identities.list(name, parseWith(listIdentitiesQuerySchema, query));
  }

  @Get(':id')
  @Access('read', { collection: 'name' })
  @ApiOperation({ summary: 'An identity with its faces (from the face index)' })
  @ApiParam(COLLECTION_PARAM)
  @ApiParam(ID_PARAM)
  @ApiResponse({ status: 200, schema: openApiSchema(identityWithFacesSchema) })
  @ApiResponse(NOT_FOUND)
  @ApiResponse(TIMEOUT)
  get(@Param('name') name: string, @Param('id') id: string): Promise<IdentityWithFaces> {
    return this.identities.get(name, id);
  }

  @Patch(':id')
  @Access('write', { collection: 'name' })
  @Accepts('application/json')
  @UseGuards(ContentTypeGuard)
  @ApiOperation({ summary: "Change an identity's name, externalId or metadata (`null` removes externalId or metadata)" })
  @ApiParam(COLLECTION_PARAM)
  @ApiParam(ID_PARAM)
  @ApiBody({ schema: openApiSchema(updateIdentitySchema, 'input') })
  @ApiResponse({ status: 200, schema: openApiSchema(identitySchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED', schema: ERROR_SCHEMA })
  @ApiResponse(NOT_FOUND)
  @ApiResponse({ status: 409, description: 'EXTERNAL_ID_EXISTS', schema: ERROR_SCHEMA })
  update(@Param('name') name: string, @Param('id') id: string, @Body() body: unknown): Promise<IdentityRecord> {
    return this.identities.update(name, id, parseWith(updateIdentitySchema, body));
  }

  @Delete(':id')
  @Access('write', { collection: 'name' })
  @ApiOperation({
    summary: 'Delete an identity',
    description:
      'By default its faces stay in the collection, detached: they become one unknown person (pinned, so reclustering keeps them together) and leave 1:N search. ' +
      'With `?erase=true` they are deleted from the face index, with their thumbnails. ' +
      'The identity is 404 from the start of the call; a DELETE cut off half-way is finished by repeating it, and one of the other kind meanwhile is 409 IDENTITY_BEING_DELETED.',
  })
  @ApiParam(COLLECTION_PARAM)
  @ApiParam(ID_PARAM)
  @ApiQuery({ name: 'erase', required: false, schema: { type: 'boolean', default: false } })
  @ApiResponse({ status: 200, schema: openApiSchema(deleteIdentityResponseSchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED', schema: ERROR_SCHEMA })
  @ApiResponse(NOT_FOUND)
  @ApiResponse({ status: 409, description: 'IDENTITY_BEING_DELETED', schema: ERROR_SCHEMA })
  @ApiResponse(TIMEOUT)
  delete(@Param('name') name: string, @Param('id') id: string, @Query() query: unknown): Promise<DeleteIdentityResponse> {
    return this.identities.delete(name, id, parseWith(deleteIdentityQuerySchema, query).erase);
  }

  @Post(':id/faces')
  @Access('write', { collection: 'name' })
  @HttpCode(201)
  @SyncPhotoRoute(IdentityExistsGuard)
  @ApiOperation({
    summary: 'Enrol a face into an identity',
    description:
      'Multipart with the file in `photo`, or JSON `{"url"}` / `{"path"}` (same policies as ingest). Enrols the largest face, or every face with `?all=true`. ' +
      'A face below FACEPIPE_ENROLL_MIN_QUALITY is refused (422 FACE_QUALITY_TOO_LOW); with `all`, only the faces above it are enrolled. ' +
      'The same photo enrolled again replaces its faces. The photo itself is not kept.',
    requestBody: {
      required: true,
      content: { 'application/json': { schema: openApiSchema(photoJsonSchema, 'input') }, 'multipart/form-data': { schema: MULTIPART_PHOTO_SCHEMA } },
    },
  })
  @ApiParam(COLLECTION_PARAM)
  @ApiParam(ID_PARAM)
  @ApiQuery({ name: 'all', required: false, schema: { type: 'boolean', default: false } })
  @ApiResponse({ status: 201, schema: openApiSchema(enrollResultSchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED, INVALID_MULTIPART, PATH_NOT_ALLOWED, URL_NOT_ALLOWED', schema: ERROR_SCHEMA })
  @ApiResponse(NOT_FOUND)
  @ApiResponse({ status: 413, description: 'PHOTO_TOO_LARGE, IMAGE_TOO_LARGE', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 415, description: 'UNSUPPORTED_MEDIA_TYPE, UNSUPPORTED_IMAGE_FORMAT', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 422, description: 'NO_FACE, FACE_QUALITY_TOO_LOW, IMAGE_DECODE_FAILED, IMAGE_EMPTY', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 429, description: 'RATE_LIMITED', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 502, description: 'URL_FETCH_FAILED', schema: ERROR_SCHEMA })
  @ApiResponse(TIMEOUT)
  enroll(@Param('name') name: string, @Param('id') id: string, @Query() query: unknown, @Req() req: Request): Promise<EnrollResult> {
    const { all } = parseWith(enrollQuerySchema, query);
    const multipart = req.is('multipart/form-data');
    if (multipart) {
      refuseOtherFiles(req, ['photo']);
      parseWith(noFieldsSchema, { ...(req.body as object) });
    }
    const json = multipart ? undefined : parseWith(photoJsonSchema, req.body);
    return this.identities.enroll(name, id, photoSource(req, 'photo', json, sourcePolicy(this.config, req)), all);
  }
}
