import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength, MinLength } from 'class-validator';

/** Declared in the document from the same constants the validators use. */
const TICKET_MIN = 1;
const TICKET_MAX = 512;

export class ConnectFinishBodyDto {
  /**
   * The `connect_ticket` the callback put in the FRONTEND_URL address the browser landed on.
   * Single use, valid 10 minutes.
   */
  @ApiProperty({
    example: 'q3Lr0m5yJ7cY1u9bTQeXh2Vn8sKf4aWd6gPz0oB1iNc',
    minLength: TICKET_MIN,
    maxLength: TICKET_MAX,
  })
  @IsString()
  @IsNotEmpty()
  @MinLength(TICKET_MIN)
  @MaxLength(TICKET_MAX)
  connect_ticket!: string;
}

export class ConnectFinishedDto {
  /** accounts._id of the connected (or reconnected) account. */
  @ApiProperty({ example: '665f1c2e9b1d4a0012345678' })
  account_id!: string;
  /**
   * Scopes the user unticked on Instagram's consent screen: messaging or comments do not work
   * until the account is reconnected with them. Empty after a full grant.
   */
  @ApiProperty({ type: [String], example: [] })
  missing_scopes!: string[];
}

export class ConnectFinishReplyDto {
  success!: true;
  data!: ConnectFinishedDto;
}
