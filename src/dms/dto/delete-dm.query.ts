import { BooleanQueryProperty } from '../../common/api-properties';

export class DeleteDmQueryDto {
  @BooleanQueryProperty({
    default: false,
    description: 'true removes the document; false marks it is_deleted',
  })
  hard: boolean = false;
}
