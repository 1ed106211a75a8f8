import {
  HttpStatus,
  Injectable,
  MiddlewareConsumer,
  Module,
  NestMiddleware,
  NestModule,
  RequestMethod,
} from '@nestjs/common';
import type { OpenAPIObject, ParameterObject, SchemaObject } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors/app-error';

const DOCUMENTED_METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** A documented path and, per method, what its path parameters must look like. */
interface DocumentedPath {
  /** Matches the raw (percent-encoded) request path; one group per path parameter. */
  pattern: RegExp;
  names: string[];
  methods: { method: string; fits: Map<string, (value: string) => boolean> }[];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether a decoded path segment meets its parameter's schema (pattern, integer bounds). */
function fitsSchema(schema: SchemaObject | undefined): (value: string) => boolean {
  const pattern = schema?.pattern === undefined ? undefined : new RegExp(schema.pattern);
  const integer = schema?.type === 'integer' || schema?.type === 'number';
  return (value) => {
    if (pattern && !pattern.test(value)) return false;
    if (!integer) return true;
    if (!/^-?[0-9]+$/.test(value)) return false;
    const n = Number(value);
    return (
      (schema?.minimum === undefined || n >= schema.minimum) &&
      (schema?.maximum === undefined || n <= schema.maximum)
    );
  };
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * Which methods each documented path answers, read from the OpenAPI document (which Nest builds
 * from the routes themselves). A path parameter counts as matching only when its value meets the
 * documented schema: `DELETE /accounts/health` is no `DELETE /accounts/{id}` (id is an
 * ObjectId), so it is a method `/accounts/health` does not have.
 */
@Injectable()
export class AllowedMethods {
  private paths: DocumentedPath[] = [];

  load(document: OpenAPIObject): void {
    this.paths = Object.entries(document.paths).map(([template, item]) => {
      const names: string[] = [];
      const source = template.replace(/\{([^}]+)\}|[^{]+/g, (part, name?: string) => {
        if (name === undefined) return escapeRegExp(part);
        names.push(name);
        return '([^/]+)';
      });
      const methods = DOCUMENTED_METHODS.filter((m) => item[m] !== undefined).map((method) => {
        const parameters = (item[method]?.parameters ?? []) as ParameterObject[];
        const fits = new Map(
          parameters
            .filter((p) => p.in === 'path')
            .map((p) => [p.name, fitsSchema(p.schema as SchemaObject | undefined)] as const),
        );
        return { method: method.toUpperCase(), fits };
      });
      // Express matches case-insensitively and ignores a trailing slash.
      return { pattern: new RegExp(`^${source}/?$`, 'i'), names, methods };
    });
  }

  /** The methods the path answers (HEAD with GET), or undefined when no documented path matches. */
  allowedFor(rawPath: string): string[] | undefined {
    const allowed = new Set<string>();
    for (const path of this.paths) {
      const match = path.pattern.exec(rawPath);
      if (!match) continue;
      const values = path.names.map((_, i) => decodeSegment(match[i + 1]));
      if (values.some((v) => v === undefined)) continue;
      for (const { method, fits } of path.methods) {
        if (path.names.every((name, i) => fits.get(name)?.(values[i]!) ?? true))
          allowed.add(method);
      }
    }
    if (allowed.size === 0) return undefined;
    if (allowed.has('GET')) allowed.add('HEAD');
    allowed.add('OPTIONS');
    return [...allowed];
  }
}

/**
 * Express answers a method a path does not have with 404 (no route matched), or routes it to a
 * parameterised sibling (`PATCH /instagram-dms/list` to `PATCH /instagram-dms/:id`, a 400 about
 * the id). HTTP says 405 with the methods the resource has in `Allow`: this answers that, through
 * the exception filter like every other error, before routing. OPTIONS gets the same `Allow`.
 * Unknown paths go on to the usual 404.
 */
@Injectable()
export class MethodNotAllowedMiddleware implements NestMiddleware {
  constructor(private readonly allowed: AllowedMethods) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const rawPath = req.originalUrl.split('?')[0];
    const allow = this.allowed.allowedFor(rawPath);
    if (!allow) return next();
    const header = allow.join(', ');
    if (req.method === 'OPTIONS') {
      res.status(HttpStatus.NO_CONTENT).set('Allow', header).end();
      return;
    }
    if (allow.includes(req.method)) return next();
    throw new AppError(
      HttpStatus.METHOD_NOT_ALLOWED,
      'METHOD_NOT_ALLOWED',
      `${req.method} is not allowed here; this path answers ${header}`,
      { headers: { Allow: header } },
    );
  }
}

/**
 * Its middleware runs after the request logger's (nestjs-pino's module is global, and Nest mounts
 * the middleware of global modules first), so 405s are logged like any other reply.
 */
@Module({ providers: [AllowedMethods], exports: [AllowedMethods] })
export class AllowedMethodsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(MethodNotAllowedMiddleware).forRoutes({ path: '*', method: RequestMethod.ALL });
  }
}
