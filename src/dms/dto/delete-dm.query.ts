import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean } from 'class-validator';
import { toBoolean } from './list-dms.query';

export class DeleteDmQueryDto {
  @ApiPropertyOptional({
    default: false,
    description: 'true removes the document; false marks it is_deleted',
  })
  @Transform(toBoolean)
  @IsBoolean()
  hard: boolean = false;
}
