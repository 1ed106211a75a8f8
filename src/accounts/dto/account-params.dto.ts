import { Transform } from 'class-transformer';
import { IsBoolean, IsMongoId, IsOptional } from 'class-validator';

export class AccountIdParam {
  /** accounts._id */
  @IsMongoId() id!: string;
}

export class ConfigAccountIdParam {
  /** accounts._id of the config's account */
  @IsMongoId() account_id!: string;
}

export class DeleteAccountQueryDto {
  /** Also delete the account's DMs, conversations and comments. */
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    value === 'true' || value === true
      ? true
      : value === 'false' || value === false
        ? false
        : value,
  )
  @IsBoolean()
  purge?: boolean;
}
