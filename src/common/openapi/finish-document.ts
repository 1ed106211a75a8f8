import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject, ReferenceObject, SchemaObject } from '@nestjs/swagger';
import { AllowedMethods } from '../http/allowed-methods';
import { schemaRulesOf } from './schema-rules';

type Schema = SchemaObject | ReferenceObject;

const componentName = (schema: Schema | undefined): string | undefined =>
  schema && '$ref' in schema ? schema.$ref.split('/').pop() : undefined;

/** The components a schema refers to, directly or through properties, items and combinators. */
function referencedComponents(
  schema: Schema | undefined,
  into: Set<string>,
  all: Record<string, Schema>,
) {
  if (!schema) return;
  const name = componentName(schema);
  if (name !== undefined) {
    if (into.has(name)) return;
    into.add(name);
    referencedComponents(all[name], into, all);
    return;
  }
  const s = schema as SchemaObject;
  for (const child of [
    ...Object.values(s.properties ?? {}),
    ...(s.items ? [s.items] : []),
    ...(s.allOf ?? []),
    ...(s.anyOf ?? []),
    ...(s.oneOf ?? []),
  ])
    referencedComponents(child, into, all);
}

/**
 * What @nestjs/swagger cannot say through decorators, added to the generated document:
 * - the object rules DTOs declare with @ApiSchemaRules (`anyOf` required fields, `minProperties`);
 * - `additionalProperties: false` on every DTO a request body refers to, since the global
 *   ValidationPipe refuses unknown fields (forbidNonWhitelisted). Inline body schemas (the
 *   webhook's, which is read as Meta sends it) stay open.
 * Then hands the finished document to {@link AllowedMethods}, which answers 405 from it.
 */
export function finishOpenApiDocument(
  app: INestApplication,
  document: OpenAPIObject,
): OpenAPIObject {
  const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
  for (const [name, schema] of Object.entries(schemas)) {
    const rules = schemaRulesOf(name);
    if (rules && !('$ref' in schema)) Object.assign(schema, rules);
  }

  const bodies = new Set<string>();
  for (const item of Object.values(document.paths)) {
    for (const operation of [item.get, item.put, item.post, item.delete, item.patch]) {
      const body = operation?.requestBody;
      if (!body || '$ref' in body) continue;
      for (const media of Object.values(body.content)) {
        if (componentName(media.schema) !== undefined)
          referencedComponents(media.schema, bodies, schemas);
      }
    }
  }
  for (const name of bodies) {
    const schema = schemas[name];
    if (schema && !('$ref' in schema)) schema.additionalProperties = false;
  }

  app.get(AllowedMethods).load(document);
  return document;
}
