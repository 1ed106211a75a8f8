import { applyDecorators } from '@nestjs/common';
import { ValidateBy } from 'class-validator';
import { BooleanQueryProperty } from '../../common/api-properties';

export const KEYSET_TOTAL_MESSAGE =
  'with_total=true cannot be combined with cursor: keyset pages carry no total (read it from the first page)';

/**
 * `?with_total=` of the list routes. On FerretDB every filter but `_id` scans the collection, so
 * an exact total costs a second full scan: only a first page pays it, and a client that does not
 * show it can turn it off. A keyset page never counts, and asking it to is refused rather than
 * silently answered with `null`.
 */
export const WithTotalProperty = () =>
  applyDecorators(
    BooleanQueryProperty({
      description:
        'Count every matching item into `total`. Default: `true` on a first page (no `cursor`), ' +
        'so clients paging with `skip` keep their total; `false` answers `total: null` without ' +
        'counting. With a `cursor` only `false` is accepted: keyset pages carry no total (400 ' +
        'VALIDATION_FAILED for `true`)',
      // What Swagger UI's "Try it out" sends: a newcomer's first page shows its total.
      example: 'true',
    }),
    ValidateBy({
      name: 'noTotalOnKeysetPage',
      validator: {
        validate: (value: unknown, args) =>
          value !== true || (args?.object as { cursor?: unknown }).cursor === undefined,
        defaultMessage: () => KEYSET_TOTAL_MESSAGE,
      },
    }),
  );

/** A keyset page never counts, whatever it asks: that is the point of paging by cursor. */
export const countsTotal = (q: { cursor?: string; with_total?: boolean }): boolean =>
  q.cursor === undefined && q.with_total !== false;

/** What `total` of a list reply says, for both reply schemas. */
export const TOTAL_DESCRIPTION =
  'Items matching the filters, over all pages. `null` on a keyset page (`cursor` given) and ' +
  'when `with_total=false`: only a first page counts, since counting reads every matching item';
