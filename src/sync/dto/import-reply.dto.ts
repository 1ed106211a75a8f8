import { ApiProperty } from '@nestjs/swagger';
import { ImportStatusDto } from '../../accounts/dto/account-health-parts.dto';

export class ImportReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: ImportStatusDto }) data!: ImportStatusDto;
}
