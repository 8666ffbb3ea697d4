import { Controller, Delete, HttpCode, Param } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Access } from '../access/access.decorator';
import { API_KEY_SECURITY, ERROR_SCHEMA } from '../common/openapi';
import { EraseService } from './erase.service';

const COLLECTION_PARAM = { name: 'name', schema: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' } } as const;

@ApiTags('erase')
@ApiSecurity(API_KEY_SECURITY)
@Controller('v1/collections/:name')
export class EraseController {
  constructor(private readonly erase: EraseService) {}

  @Delete('photos/:key')
  @Access('admin', { collection: 'name' })
  @HttpCode(200)
  @ApiOperation({
    summary: 'Erase a photo',
    description:
      'Removes its faces (vectors and payloads), their thumbnails, its uploaded file (unless another photo has the same bytes) and its entries in job results. ' +
      'A photo still waiting in the queue is taken off it; one being processed is 409 PHOTO_IN_PROGRESS.',
  })
  @ApiParam(COLLECTION_PARAM)
  @ApiParam({ name: 'key', schema: { type: 'string' }, description: 'the photo key, URL-encoded' })
  @ApiResponse({ status: 200, schema: { type: 'object', required: ['collection', 'key', 'faces'], properties: { collection: { type: 'string' }, key: { type: 'string' }, faces: { type: 'integer', description: 'faces erased' } } } })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND, PHOTO_NOT_FOUND', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 409, description: 'PHOTO_IN_PROGRESS', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 504, description: 'REQUEST_TIMEOUT: the matcher did not answer in time', schema: ERROR_SCHEMA })
  erasePhoto(@Param('name') name: string, @Param('key') key: string): Promise<{ collection: string; key: string; faces: number }> {
    return this.erase.erasePhoto(name, key);
  }

  @Delete()
  @Access('admin', { collection: 'name' })
  @HttpCode(200)
  @ApiOperation({
    summary: 'Delete a collection and everything in it',
    description:
      'Removes the index, thumbnails, uploaded files (unless another collection has the same bytes), identities, counts and batch jobs; afterwards the collection is 404. ' +
      'Photos still in flight are refused by the matcher. A DELETE that was cut off can be repeated.',
  })
  @ApiParam(COLLECTION_PARAM)
  @ApiResponse({ status: 200, schema: { type: 'object', required: ['name', 'faces'], properties: { name: { type: 'string' }, faces: { type: 'integer', description: 'faces erased' } } } })
  @ApiResponse({ status: 404, description: 'COLLECTION_NOT_FOUND', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 504, description: 'REQUEST_TIMEOUT: the matcher did not answer in time; repeat the DELETE', schema: ERROR_SCHEMA })
  eraseCollection(@Param('name') name: string): Promise<{ name: string; faces: number }> {
    return this.erase.eraseCollection(name);
  }
}
