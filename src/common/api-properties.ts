import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, type ApiPropertyOptions } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
} from 'class-validator';
import { IsOptionalNotNull } from './validation';

/*
 * Each decorator here declares one rule twice, to class-validator (what the server enforces) and
 * to OpenAPI (what /docs-json promises), from the same constants, so the two cannot drift apart.
 * They are explicit @ApiProperty calls: the swagger CLI plugin only runs in `nest build`, and the
 * tests and ts-node runs must serve the same document.
 *
 * Patterns are written for both regex dialects: ECMAScript here, Python/Rust in OpenAPI tools.
 * So no `\d`, `\s`, `\w` or `.` (their Unicode readings differ): explicit ASCII classes only.
 */

/** A MongoDB ObjectId as 24 hex digits (the only form `new ObjectId(hex)` reads). */
export const OBJECT_ID_PATTERN = '^[0-9a-fA-F]{24}$';
export const OBJECT_ID = new RegExp(OBJECT_ID_PATTERN);

type PropertyOptions = Pick<ApiPropertyOptions, 'description' | 'example' | 'format'>;

/**
 * An ObjectId field of a body, query or path DTO. The message is class-validator's @IsMongoId
 * one, which this replaces: @IsMongoId also takes `0x` + 22 hex digits, which ObjectId refuses
 * (a 500 instead of a 400).
 */
export const ObjectIdProperty = (options: PropertyOptions & { required?: boolean } = {}) => {
  const { required = true, ...rest } = options;
  const doc = {
    type: String,
    pattern: OBJECT_ID_PATTERN,
    example: '659200000000000000000a01',
    ...rest,
  };
  return applyDecorators(
    ...(required ? [ApiProperty(doc)] : [ApiPropertyOptional(doc), IsOptionalNotNull()]),
    Matches(OBJECT_ID, { message: '$property must be a mongodb id' }),
  );
};

/**
 * A query string as an integer: only `-?[0-9]+` is converted. Anything else stays a string and
 * fails @IsInt (`Number()` would read `0x10`, `1e2` or ` 5` as numbers the document does not
 * describe as integers).
 */
const toInteger = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?[0-9]{1,16}$/.test(value) ? Number(value) : value;

/** An integer query parameter within [minimum, maximum], with its default when absent. */
export const IntegerQueryProperty = (
  options: { minimum: number; maximum: number; default: number } & PropertyOptions,
) =>
  applyDecorators(
    ApiPropertyOptional({ type: 'integer', ...options }),
    IsOptional(),
    Transform(toInteger),
    IsInt(),
    Min(options.minimum),
    Max(options.maximum),
  );

/**
 * `?flag=true|false` (and 1/0, as the Python service read them) as a boolean; anything else stays
 * a string and fails validation. Documented as the four strings accepted: "boolean" would not
 * say that 1 and 0 are taken.
 */
export const QUERY_BOOLEANS = ['true', 'false', '1', '0'] as const;
export const toBoolean = ({ value }: { value: unknown }): unknown => {
  if (value === 'true' || value === '1' || value === true) return true;
  if (value === 'false' || value === '0' || value === false) return false;
  return value;
};

/** An optional boolean query parameter (`true`, `false`, `1`, `0`). */
export const BooleanQueryProperty = (options: PropertyOptions & { default?: boolean } = {}) =>
  applyDecorators(
    ApiPropertyOptional({
      type: String,
      enum: QUERY_BOOLEANS,
      ...options,
      ...(options.default === undefined ? {} : { default: String(options.default) }),
    }),
    IsOptional(),
    Transform(toBoolean),
    IsBoolean(),
  );

/** One of a fixed set of strings. */
export const EnumProperty = <T extends string>(
  values: readonly T[],
  options: PropertyOptions & { required?: boolean; default?: T } = {},
) => {
  const { required = true, ...rest } = options;
  const doc = { type: String, enum: values as T[], ...rest };
  return applyDecorators(
    ...(required ? [ApiProperty(doc)] : [ApiPropertyOptional(doc), IsOptionalNotNull()]),
    IsIn(values),
  );
};

/**
 * Characters as JSON Schema counts them (code points). class-validator's @MaxLength counts
 * differently (it leaves out U+FE0E/U+FE0F variation selectors), which would let the document and
 * the server disagree on a string at the limit.
 */
const codePoints = (value: string) => [...value].length;

/** A string field of a body or query DTO with its length bounds and, optionally, a pattern. */
export const TextProperty = (
  options: PropertyOptions & {
    maxLength: number;
    minLength?: number;
    pattern?: string;
    required?: boolean;
    default?: string;
  },
) => {
  const { required = true, minLength = 0, maxLength, pattern, ...rest } = options;
  const doc = {
    type: String,
    maxLength,
    ...(minLength > 0 ? { minLength } : {}),
    ...(pattern === undefined ? {} : { pattern }),
    ...rest,
  };
  return applyDecorators(
    ...(required ? [ApiProperty(doc)] : [ApiPropertyOptional(doc), IsOptionalNotNull()]),
    IsString(),
    ValidateBy({
      name: 'length',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' &&
          codePoints(value) >= minLength &&
          codePoints(value) <= maxLength,
        defaultMessage: (args) =>
          minLength > 0
            ? `${args?.property ?? 'value'} must be from ${minLength} to ${maxLength} characters long`
            : `${args?.property ?? 'value'} must be at most ${maxLength} characters long`,
      },
    }),
    ...(pattern === undefined
      ? []
      : [Matches(new RegExp(pattern), { message: `$property must match ${pattern}` })]),
  );
};
