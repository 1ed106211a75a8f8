import { ApiProperty } from '@nestjs/swagger';
import { ImportStatusDto } from '../../accounts/account-insights';

export class ImportReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: ImportStatusDto }) data!: ImportStatusDto;
}
