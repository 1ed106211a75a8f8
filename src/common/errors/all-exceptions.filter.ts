import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { toErrorReply } from './error-envelope';

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger(AllExceptionsFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<Request & { id?: unknown }>();
    const response = http.getResponse<Response>();
    const given = request.id ?? response.getHeader('x-request-id');
    const requestId =
      typeof given === 'string' || typeof given === 'number' ? String(given) : 'unknown';
    const reply = toErrorReply(exception, requestId);

    if (reply.status >= 500) {
      this.logger.error({ err: exception, requestId }, 'request failed');
    }
    if (response.headersSent) return;
    response.status(reply.status).set(reply.headers).json(reply.body);
  }
}
