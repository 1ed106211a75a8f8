import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';

export class UpdateDmDto {
  @ApiPropertyOptional({
    example: 'Corrected text',
    description: 'Replaces the stored text (not sent to Instagram)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(4000)
  text?: string;

  @ApiPropertyOptional({ example: true, description: "The dashboard's read flag" })
  @IsOptional()
  @IsBoolean()
  read?: boolean;
}
