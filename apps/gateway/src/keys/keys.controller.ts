import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AdminKeyOnly } from '../access/access.decorator';
import { Accepts, ContentTypeGuard } from '../common/content-type.guard';
import { API_KEY_SECURITY, ERROR_SCHEMA } from '../common/openapi';
import { openApiSchema, parseWith } from '../common/zod';
import { type CreatedKey, type KeyView, createKeySchema, createdKeySchema, keyListSchema } from './keys.schemas';
import { KeysService } from './keys.service';

@ApiTags('keys')
@ApiSecurity(API_KEY_SECURITY)
@AdminKeyOnly()
@Controller('v1/keys')
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  @Post()
  @HttpCode(201)
  @Accepts('application/json')
  @UseGuards(ContentTypeGuard)
  @ApiOperation({
    summary: 'Issue an API key limited to some collections and scopes (admin key only)',
    description: 'The key is in this answer only; the server keeps its sha256. The collections need not exist yet.',
  })
  @ApiBody({ schema: openApiSchema(createKeySchema, 'input') })
  @ApiResponse({ status: 201, schema: openApiSchema(createdKeySchema) })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 403, description: 'FORBIDDEN: not the admin key', schema: ERROR_SCHEMA })
  create(@Body() body: unknown): Promise<CreatedKey> {
    return this.keys.create(parseWith(createKeySchema, body));
  }

  @Get()
  @ApiOperation({ summary: 'The issued keys, oldest first (never the keys themselves)' })
  @ApiResponse({ status: 200, schema: openApiSchema(keyListSchema) })
  @ApiResponse({ status: 403, description: 'FORBIDDEN: not the admin key', schema: ERROR_SCHEMA })
  async list(): Promise<{ items: KeyView[] }> {
    return { items: await this.keys.list() };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a key; it is refused from the next request on' })
  @ApiParam({ name: 'id', schema: { type: 'string', pattern: '^k[0-9a-f]{16}$' } })
  @ApiResponse({ status: 204, description: 'revoked' })
  @ApiResponse({ status: 404, description: 'KEY_NOT_FOUND', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 403, description: 'FORBIDDEN: not the admin key', schema: ERROR_SCHEMA })
  async revoke(@Param('id') id: string): Promise<void> {
    await this.keys.revoke(id);
  }
}
