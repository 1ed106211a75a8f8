import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsString, MaxLength } from 'class-validator';
import { IsOptionalNotNull } from '../../common/validation';

export class UpdateDmDto {
  @ApiPropertyOptional({
    example: 'Corrected text',
    description: 'Replaces the stored text (not sent to Instagram)',
  })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(4000)
  text?: string;

  @ApiPropertyOptional({ example: true, description: "The dashboard's read flag" })
  @IsOptionalNotNull()
  @IsBoolean()
  read?: boolean;
}
