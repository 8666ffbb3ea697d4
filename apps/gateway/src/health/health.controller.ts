import { Controller, Get, HttpCode } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { PublicRoute } from '../access/access.decorator';
import { ApiError } from '../common/api-error';
import { ERROR_SCHEMA } from '../common/openapi';
import { HealthService } from './health.service';

@ApiTags('health')
@PublicRoute()
@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('healthz')
  @HttpCode(200)
  @ApiOperation({ summary: 'Liveness: 200 while the process serves requests' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } } })
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @HttpCode(200)
  @ApiOperation({ summary: 'Readiness: 200 when Redis answers, 503 otherwise' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { status: { type: 'string', enum: ['ready'] } } } })
  @ApiResponse({ status: 503, schema: ERROR_SCHEMA })
  async readyz(): Promise<{ status: 'ready' }> {
    if (!(await this.health.redisAnswers())) throw new ApiError(503, 'NOT_READY', 'Redis is not answering');
    return { status: 'ready' };
  }
}
