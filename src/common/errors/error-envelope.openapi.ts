import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/*
 * The error envelope (error-envelope.ts) as OpenAPI schemas, shared by every documented error
 * reply. Declared with explicit decorators: the tests and ts-node runs build the document without
 * the swagger CLI plugin, and both documents must say the same.
 */

export class ErrorBodyDto {
  @ApiProperty({ description: 'Stable code to branch on', example: 'VALIDATION_FAILED' })
  code!: string;

  @ApiProperty({ description: 'Written for the API user; never carries secrets or DM text' })
  message!: string;

  // Any JSON value: an array for VALIDATION_FAILED, an object elsewhere.
  @ApiPropertyOptional({
    oneOf: [{ type: 'array', items: {} }, { type: 'object' }],
    description:
      'Structured detail: for VALIDATION_FAILED the list of `{ field, errors[] }`, for Instagram errors its codes',
  })
  details?: unknown;

  @ApiPropertyOptional({ description: 'Set on 5xx replies: quote it when reporting the failure' })
  request_id?: string;
}

export class ErrorEnvelopeDto {
  @ApiProperty({ enum: [false] })
  success!: false;

  @ApiProperty({ type: ErrorBodyDto })
  error!: ErrorBodyDto;

  @ApiProperty({ description: '`error.message` again, for clients of the Python service' })
  detail!: string;
}
