// Errors in the API's JSON form: {"error":{"code":...,"message":...}}.

import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import { Response } from 'express';

const CODES: Record<number, string> = {
  400: 'invalid',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  415: 'unsupported_media_type',
  503: 'unavailable',
  504: 'timeout',
};

export class ApiError extends HttpException {
  constructor(status: number, message: string) {
    super(message, status);
  }
}

export const invalid = (message: string) => new ApiError(400, message);
export const notFound = (message: string) => new ApiError(404, message);

@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost) {
    const response = host.switchToHttp().getResponse<Response>();
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    const message = exception instanceof Error ? exception.message : String(exception);
    response.status(status).json({ error: { code: CODES[status] ?? 'internal', message } });
  }
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/// A UUID from a path or body field, lower-cased; a 400 naming the field otherwise.
export function parseId(field: string, value: string): string {
  if (!UUID.test(value)) {
    throw invalid(`${field} must be a UUID`);
  }
  return value.toLowerCase();
}
