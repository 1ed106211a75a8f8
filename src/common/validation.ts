import { applyDecorators, HttpStatus, ValidationError, ValidationPipe } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, ValidateBy, ValidateIf } from 'class-validator';
import { AppError } from './errors/app-error';

export interface FieldError {
  field: string;
  errors: string[];
}

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {});
    return [
      ...(own.length ? [{ field, errors: own }] : []),
      ...flatten(error.children ?? [], field),
    ];
  });
}

/** Global pipe: unknown fields are refused, and the reply lists every bad field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const details = flatten(errors);
      const summary = details.map((d) => d.errors.join(', ')).join('; ');
      return new AppError(
        HttpStatus.BAD_REQUEST,
        'VALIDATION_FAILED',
        `Validation failed: ${summary}`,
        {
          details,
        },
      );
    },
  });
}

/**
 * For an optional body field: only a missing field skips validation, so `null` meets the field's
 * type check and is refused. (@IsOptional lets `null` through, and a service then reads it as
 * "not given" or worse: `is_active: null` would enable an account.)
 */
export const IsOptionalNotNull = () =>
  ValidateIf((_object: object, value: unknown) => value !== undefined);

/**
 * ISO 8601 calendar dates, alone or with a time (minutes, seconds, fraction) and an offset:
 * `2026-01-31`, `2026-01-31T10:00Z`, `2026-01-31T10:00:00.000+02:00`. Every string it matches is
 * a date `new Date()` reads. Week and ordinal dates (`2026-W05`, `2026-032`), which @IsISO8601
 * accepts and `new Date()` turns into Invalid Date, do not match; nor does a space instead of `T`
 * (read as local time by some engines, not at all for years below 50).
 */
export const ISO_DATE_TIME_PATTERN =
  '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])' +
  '(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$';
const ISO_DATE_TIME = new RegExp(ISO_DATE_TIME_PATTERN);

/** An optional date query parameter, declared to class-validator and OpenAPI alike. */
export const IsoDateTimeProperty = (options: { description?: string; example?: string } = {}) =>
  applyDecorators(
    ApiPropertyOptional({ type: String, pattern: ISO_DATE_TIME_PATTERN, ...options }),
    IsOptional(),
    ValidateBy({
      name: 'isReadableIsoDate',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' &&
          ISO_DATE_TIME.test(value) &&
          !Number.isNaN(Date.parse(value)),
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z`,
      },
    }),
  );
