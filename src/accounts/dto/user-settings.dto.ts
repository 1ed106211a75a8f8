import { IsBoolean, IsString, MaxLength, MinLength } from 'class-validator';
import { IsOptionalNotNull } from '../../common/validation';

export class UpdateConfigDto {
  @IsOptionalNotNull() @IsString() @MinLength(1) @MaxLength(200) config_name?: string;
  /** false stops ingest and sending for the account until it is enabled again. */
  @IsOptionalNotNull() @IsBoolean() is_active?: boolean;
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
