import { HttpStatus, ValidationError, ValidationPipe } from '@nestjs/common';
import { isISO8601, ValidateBy, ValidateIf } from 'class-validator';
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
 * An ISO 8601 date-time that JavaScript can read. @IsISO8601 alone also accepts week and ordinal
 * dates (`2026-W05`, `2026-032`), which `new Date()` turns into Invalid Date.
 */
export const IsReadableIsoDate = () =>
  ValidateBy({
    name: 'isReadableIsoDate',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'string' && isISO8601(value) && !Number.isNaN(Date.parse(value)),
      defaultMessage: (args) =>
        `${args?.property ?? 'value'} must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z`,
    },
  });
