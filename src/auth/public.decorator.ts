import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';

export const IS_PUBLIC = 'igdm:isPublic';

/**
 * Opts a route out of the global JWT guard: webhook, health, docs, OAuth callback. In the OpenAPI
 * document it gets the empty security requirement (`{}`: no credentials needed), which overrides
 * the document-wide bearer requirement, so Swagger UI shows it as open.
 */
export const Public = () => applyDecorators(SetMetadata(IS_PUBLIC, true), ApiSecurity({}));
