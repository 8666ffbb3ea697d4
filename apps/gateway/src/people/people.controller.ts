import type { FacePage, PeoplePage, ReclusterStatus } from '@facepipe/contracts';
import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Access } from '../access/access.decorator';
import { Accepts, BodyOptional, ContentTypeGuard } from '../common/content-type.guard';
import { API_KEY_SECURITY, ERROR_SCHEMA } from '../common/openapi';
import { openApiSchema, parseWith } from '../common/zod';
import {
  facePageSchema,
  mergePeopleResponseSchema,
  mergePeopleSchema,
  moveFaceResponseSchema,
  moveFaceSchema,
  namePersonResponseSchema,
  namePersonSchema,
  pageQuerySchema,
  peoplePageSchema,
  reclusterAcceptedSchema,
  reclusterSchema,
  reclusterStatusSchema,
} from './people.schemas';
import { PeopleService } from './people.service';

const COLLECTION_PARAM = { name: 'name', schema: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' } } as const;
const PAGE_QUERIES = [
  { name: 'cursor', required: false, schema: { type: 'string' }, description: '`next` of the previous page' },
  { name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
] as const;
const NOT_FOUND = { status: 404, description: 'COLLECTION_NOT_FOUND, PERSON_NOT_FOUND', schema: ERROR_SCHEMA } as const;
const TIMEOUT = { status: 504, description: 'REQUEST_TIMEOUT: the matcher did not answer in time', schema: ERROR_SCHEMA } as const;

@ApiTags('people')
@ApiSecurity(API_KEY_SECURITY)
@Controller('v1/collections/:name')
export class PeopleController {
  constructor(private readonly people: PeopleService) {}

  @Get('people')
  @Access('read', { collection: 'name' })
  @ApiOperation({ summary: 'Unknown people of a collection, most faces first, each with a representative face', description: 'Named people (identities) are not listed.' })
  @ApiParam(COLLECTION_PARAM)
  @ApiQuery(PAGE_QUERIES[0])
  @ApiQuery(PAGE_QUERIES[1])
  @ApiResponse({ status: 200, schema: openApiSchema(peoplePageSchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED, INVALID_CURSOR', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND', schema: ERROR_SCHEMA })
  @ApiResponse(TIMEOUT)
  list(@Param('name') name: string, @Query() query: unknown): Promise<PeoplePage> {
    return this.people.list(name, parseWith(pageQuerySchema, query));
  }

  @Get('people/:personId/faces')
  @Access('read', { collection: 'name' })
  @ApiOperation({ summary: "A person's faces, a page at a time" })
  @ApiParam(COLLECTION_PARAM)
  @ApiParam({ name: 'personId', schema: { type: 'string' } })
  @ApiQuery(PAGE_QUERIES[0])
  @ApiQuery(PAGE_QUERIES[1])
  @ApiResponse({ status: 200, schema: openApiSchema(facePageSchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED, INVALID_CURSOR', schema: ERROR_SCHEMA })
  @ApiResponse(NOT_FOUND)
  @ApiResponse(TIMEOUT)
  faces(@Param('name') name: string, @Param('personId') personId: string, @Query() query: unknown): Promise<FacePage> {
    return this.people.faces(name, personId, parseWith(pageQuerySchema, query));
  }

  @Post('people/merge')
  @Access('write', { collection: 'name' })
  @HttpCode(200)
  @Accepts('application/json')
  @UseGuards(ContentTypeGuard)
  @ApiOperation({
    summary: 'Merge people into one',
    description: 'Every face of `ids` takes one person id (`into`, by default the person with the most faces) and is pinned: a recluster keeps it there.',
  })
  @ApiParam(COLLECTION_PARAM)
  @ApiBody({ schema: openApiSchema(mergePeopleSchema, 'input') })
  @ApiResponse({ status: 200, schema: openApiSchema(mergePeopleResponseSchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED', schema: ERROR_SCHEMA })
  @ApiResponse(NOT_FOUND)
  @ApiResponse(TIMEOUT)
  merge(@Param('name') name: string, @Body() body: unknown): Promise<{ personId: string; faces: number }> {
    return this.people.merge(name, parseWith(mergePeopleSchema, body));
  }

  @Post('people/:personId/name')
  @Access('write', { collection: 'name' })
  @HttpCode(200)
  @Accepts('application/json')
  @UseGuards(ContentTypeGuard)
  @ApiOperation({
    summary: 'Turn a person into an identity',
    description:
      '`{"name"}` creates an identity; `{"identityId"}` attaches the faces to an existing one. The faces become the identity\'s (found by 1:N search) and the person leaves the people list.',
  })
  @ApiParam(COLLECTION_PARAM)
  @ApiParam({ name: 'personId', schema: { type: 'string' } })
  @ApiBody({ schema: openApiSchema(namePersonSchema, 'input') })
  @ApiResponse({ status: 200, schema: openApiSchema(namePersonResponseSchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND, PERSON_NOT_FOUND, IDENTITY_NOT_FOUND', schema: ERROR_SCHEMA })
  @ApiResponse(TIMEOUT)
  name(@Param('name') name: string, @Param('personId') personId: string, @Body() body: unknown): Promise<{ identityId: string; name?: string; faces: number }> {
    return this.people.name(name, personId, parseWith(namePersonSchema, body));
  }

  @Post('faces/:faceId/move')
  @Access('write', { collection: 'name' })
  @HttpCode(200)
  @Accepts('application/json')
  @UseGuards(ContentTypeGuard)
  @ApiOperation({ summary: 'Move a face to another person, or to a new person of its own', description: 'The face is pinned there: a recluster keeps it.' })
  @ApiParam(COLLECTION_PARAM)
  @ApiParam({ name: 'faceId', schema: { type: 'string' } })
  @ApiBody({ schema: openApiSchema(moveFaceSchema, 'input') })
  @ApiResponse({ status: 200, schema: openApiSchema(moveFaceResponseSchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND, FACE_NOT_FOUND, PERSON_NOT_FOUND', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 409, description: 'FACE_IS_IDENTITY: the face belongs to an identity', schema: ERROR_SCHEMA })
  @ApiResponse(TIMEOUT)
  move(@Param('name') name: string, @Param('faceId') faceId: string, @Body() body: unknown): Promise<{ faceId: string; personId: string }> {
    return this.people.move(name, faceId, parseWith(moveFaceSchema, body));
  }

  @Post('recluster')
  @Access('admin', { collection: 'name' })
  @HttpCode(202)
  @Accepts('application/json')
  @BodyOptional()
  @UseGuards(ContentTypeGuard)
  @ApiOperation({
    summary: 'Re-cluster the unknown faces of a collection (background job)',
    description:
      'DBSCAN over the unknown faces: faces within `eps` cosine similarity are neighbours; a face with at least `minFaces - 1` neighbours is a core face. ' +
      'Merges, moves and named people survive it. Answers at once with a job id to poll; while one runs, asking again with the same settings answers that one, and with others is 409 RECLUSTER_IN_PROGRESS.',
  })
  @ApiParam(COLLECTION_PARAM)
  @ApiBody({ required: false, schema: openApiSchema(reclusterSchema, 'input') })
  @ApiResponse({ status: 202, schema: openApiSchema(reclusterAcceptedSchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 409, description: 'RECLUSTER_IN_PROGRESS: one with other settings is still running', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 415, description: 'UNSUPPORTED_MEDIA_TYPE: a body that is not JSON', schema: ERROR_SCHEMA })
  async recluster(@Param('name') name: string, @Body() body: unknown): Promise<{ jobId: string }> {
    // No body at all reads as {}; a JSON body must be an object (an array or a string is 400).
    const { jobId } = await this.people.recluster(name, parseWith(reclusterSchema, body ?? {}));
    return { jobId };
  }

  @Get('recluster/:jobId')
  @Access('read', { collection: 'name' })
  @ApiOperation({ summary: 'State of a recluster job' })
  @ApiParam(COLLECTION_PARAM)
  @ApiParam({ name: 'jobId', schema: { type: 'string' } })
  @ApiResponse({ status: 200, schema: openApiSchema(reclusterStatusSchema) })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND, RECLUSTER_JOB_NOT_FOUND', schema: ERROR_SCHEMA })
  reclusterStatus(@Param('name') name: string, @Param('jobId') jobId: string): Promise<ReclusterStatus> {
    return this.people.reclusterStatus(name, jobId);
  }
}
