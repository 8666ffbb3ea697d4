import { Body, Controller, Get, HttpCode, Param, Patch, Post, UseGuards } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Access, AdminKeyOnly } from '../access/access.decorator';
import { Accepts, ContentTypeGuard } from '../common/content-type.guard';
import { API_KEY_SECURITY, ERROR_SCHEMA } from '../common/openapi';
import { openApiSchema, parseWith } from '../common/zod';
import {
  type Collection,
  type CollectionStats,
  collectionNameSchema,
  collectionSchema,
  collectionStatsSchema,
  createCollectionSchema,
  updateCollectionSchema,
} from './collections.schemas';
import { CollectionsService, collectionNotFound } from './collections.service';

@ApiTags('collections')
@ApiSecurity(API_KEY_SECURITY)
@Controller('v1/collections')
export class CollectionsController {
  constructor(private readonly collections: CollectionsService) {}

  @Post()
  @AdminKeyOnly()
  @HttpCode(201)
  @Accepts('application/json')
  @UseGuards(ContentTypeGuard)
  @ApiOperation({ summary: 'Create a collection' })
  @ApiBody({ schema: openApiSchema(createCollectionSchema, 'input') })
  @ApiResponse({ status: 201, schema: openApiSchema(collectionSchema) })
  @ApiResponse({ status: 400, description: 'invalid name (VALIDATION_FAILED)', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 409, description: 'COLLECTION_EXISTS', schema: ERROR_SCHEMA })
  create(@Body() body: unknown): Promise<Collection> {
    const { name } = parseWith(createCollectionSchema, body);
    return this.collections.create(name);
  }

  @Get(':name')
  @Access('read', { collection: 'name' })
  @ApiOperation({ summary: 'Counts of a collection: photos, faces and people (maintained by the matcher)' })
  @ApiParam({ name: 'name', schema: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' } })
  @ApiResponse({ status: 200, schema: openApiSchema(collectionStatsSchema) })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND', schema: ERROR_SCHEMA })
  async get(@Param('name') name: string): Promise<CollectionStats> {
    // A name that can never exist is simply not there.
    if (!collectionNameSchema.safeParse(name).success) throw collectionNotFound(name);
    return this.collections.stats(name);
  }

  @Patch(':name')
  @Access('admin', { collection: 'name' })
  @Accepts('application/json')
  @UseGuards(ContentTypeGuard)
  @ApiOperation({
    summary: "Set a collection's match threshold",
    description: 'The similarity at or above which a search\'s best candidate is returned as `match`. `null` restores the default (the model manifest\'s). Answers the collection as GET does.',
  })
  @ApiParam({ name: 'name', schema: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' } })
  @ApiBody({ schema: openApiSchema(updateCollectionSchema, 'input') })
  @ApiResponse({ status: 200, schema: openApiSchema(collectionStatsSchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND', schema: ERROR_SCHEMA })
  async update(@Param('name') name: string, @Body() body: unknown): Promise<CollectionStats> {
    if (!collectionNameSchema.safeParse(name).success) throw collectionNotFound(name);
    return this.collections.update(name, parseWith(updateCollectionSchema, body));
  }
}
