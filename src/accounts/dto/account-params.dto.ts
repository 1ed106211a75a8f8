import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';
import { ObjectIdProperty } from '../../common/api-properties';

export class AccountIdParam {
  @ObjectIdProperty({ description: 'accounts._id' })
  id!: string;
}

export class ConfigAccountIdParam {
  @ObjectIdProperty({ description: "accounts._id of the config's account" })
  account_id!: string;
}

export class DeleteAccountQueryDto {
  @ApiPropertyOptional({
    type: Boolean,
    description: 'Also delete the account’s DMs, conversations and comments',
  })
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
