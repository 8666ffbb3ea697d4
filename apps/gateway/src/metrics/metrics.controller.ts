import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PublicRoute } from '../access/access.decorator';
import type { Response } from 'express';
import { MetricsService } from './metrics.service';

/** GET /metrics: Prometheus text format; queue depths are read at scrape time. */
@ApiExcludeController()
@PublicRoute()
@Controller()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get('metrics')
  @Header('cache-control', 'no-store')
  async metricsText(@Res() res: Response): Promise<void> {
    const { contentType, body } = await this.metrics.render();
    res.type(contentType).send(body);
  }
}
