import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import type { DeliveryStatus } from '../schemas/webhook-delivery.schema';

export class ListDeliveriesQueryDto {
  @IsOptional() @IsIn(['pending', 'processed', 'failed', 'ignored']) status: DeliveryStatus =
    'failed';
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(500) limit = 100;
}
