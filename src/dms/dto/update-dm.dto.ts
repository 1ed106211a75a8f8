import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean } from 'class-validator';
import { TextProperty } from '../../common/api-properties';
import { ApiSchemaRules } from '../../common/openapi/schema-rules';
import { IsOptionalNotNull } from '../../common/validation';

/** At least one field: an empty update answers 400 NO_UPDATE_FIELDS. */
@ApiSchemaRules({ minProperties: 1 })
export class UpdateDmDto {
  @TextProperty({
    required: false,
    maxLength: 4000,
    example: 'Corrected text',
    description: 'Replaces the stored text (not sent to Instagram)',
  })
  text?: string;

  @ApiPropertyOptional({ type: Boolean, example: true, description: "The dashboard's read flag" })
  @IsOptionalNotNull()
  @IsBoolean()
  read?: boolean;
}
