import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { Response } from 'express';
import { Public } from '../auth/public.decorator';
import { DatabaseHealthIndicator } from './database.health';

export class HealthReplyDto {
  /** `healthy` when the database answers, else `unhealthy`. */
  status!: 'healthy' | 'unhealthy';
  service!: 'Instagram DM API';
  database!: 'up' | 'down';
}

@ApiTags('Health')
@Controller('health')
export class HealthController {
  constructor(private readonly database: DatabaseHealthIndicator) {}

  // Never throttled: behind a load balancer one client's flood would make the balancer's own
  // checks fail and take the instance out of rotation.
  @Public()
  @SkipThrottle()
  @Get()
  @ApiOperation({
    summary: 'Liveness and database reachability, without a token (load balancers, uptime checks)',
  })
  @ApiOkResponse({ type: HealthReplyDto, description: 'Service and database are up' })
  @ApiServiceUnavailableResponse({
    type: HealthReplyDto,
    description: 'The database does not answer',
  })
  async check(@Res({ passthrough: true }) res: Response): Promise<HealthReplyDto> {
    const result = await this.database.ping('database', 1_500);
    const up = result.database?.status === 'up';
    if (!up) res.status(HttpStatus.SERVICE_UNAVAILABLE);
    return {
      status: up ? 'healthy' : 'unhealthy',
      service: 'Instagram DM API',
      database: up ? 'up' : 'down',
    };
  }
}
