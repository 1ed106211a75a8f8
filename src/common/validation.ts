import { HttpStatus, ValidationError, ValidationPipe } from '@nestjs/common';
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
