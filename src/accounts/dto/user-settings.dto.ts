import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean } from 'class-validator';
import { TextProperty } from '../../common/api-properties';
import { ApiSchemaRules } from '../../common/openapi/schema-rules';
import { IsOptionalNotNull } from '../../common/validation';

/** At least one field: an empty change answers 400. */
@ApiSchemaRules({ minProperties: 1 })
export class UpdateConfigDto {
  @TextProperty({ required: false, minLength: 1, maxLength: 200, example: 'Main shop' })
  config_name?: string;

  @ApiPropertyOptional({
    type: Boolean,
    description: 'false stops ingest and sending for the account until it is enabled again',
  })
  @IsOptionalNotNull()
  @IsBoolean()
  is_active?: boolean;
}

export class AccountConfigDto {
  config_name?: string;
  account_id!: string;
  is_active!: boolean;
  is_deleted!: boolean;
}

export class UserSettingsDto {
  id!: string;
  user_id!: string;
  platform!: string;
  is_active!: boolean;
  is_deleted!: boolean;
  configs!: AccountConfigDto[];
  created_at!: Date | null;
  updated_at!: Date | null;
}

export class UserSettingsReplyDto {
  success!: true;
  data!: UserSettingsDto;
}

export class AccountConfigReplyDto {
  success!: true;
  data!: AccountConfigDto;
}
