import { collectionOfFaceId } from '@facepipe/contracts';
import { RequestError, ThumbnailStore } from '@facepipe/pipeline';
import { Controller, Get, Param, StreamableFile } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Access } from '../access/access.decorator';
import { faceNotFound } from '../access/access.guard';
import { API_KEY_SECURITY, ERROR_SCHEMA } from '../common/openapi';
import { IndexOpsClient } from '../index-ops/index-ops.client';

@ApiTags('faces')
@ApiSecurity(API_KEY_SECURITY)
@Controller('v1/faces')
export class FacesController {
  constructor(
    private readonly thumbnails: ThumbnailStore,
    private readonly indexOps: IndexOpsClient,
  ) {}

  @Get(':faceId/thumbnail')
  @Access('read', { face: 'faceId' })
  @ApiOperation({ summary: 'The aligned face crop (112×112 JPEG) of an ingested face' })
  @ApiParam({ name: 'faceId', schema: { type: 'string', pattern: '^[a-z0-9_-]{1,64}\\.f[0-9a-f]{32}$' } })
  @ApiProduces('image/jpeg')
  @ApiResponse({ status: 200, description: 'the JPEG', content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } } })
  @ApiResponse({ status: 404, description: 'FACE_NOT_FOUND', schema: ERROR_SCHEMA })
  async thumbnail(@Param('faceId') faceId: string): Promise<StreamableFile> {
    // The index decides, not the file: the detector writes a crop before the face is indexed, so a
    // crop can outlive a face that never was (an enrolment refused after its identity was erased)
    // or no longer is (a re-submitted photo with fewer faces). Those are never served.
    const collection = collectionOfFaceId(faceId);
    if (collection === null || !(await this.isIndexed(collection, faceId))) throw faceNotFound(faceId);
    const jpeg = await this.thumbnails.read(faceId);
    if (!jpeg) throw faceNotFound(faceId);
    return new StreamableFile(jpeg, { type: 'image/jpeg', length: jpeg.length });
  }

  private async isIndexed(collection: string, faceId: string): Promise<boolean> {
    try {
      return (await this.indexOps.call(collection, { type: 'hasFace', faceId })).exists;
    } catch (err) {
      if (err instanceof RequestError && err.status === 404) return false; // the collection is gone
      throw err;
    }
  }
}
