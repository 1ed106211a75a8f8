import type { SchemaObject } from '@nestjs/swagger';

/**
 * Object-level rules of a DTO's schema (`anyOf` of required fields, `minProperties`) that
 * @nestjs/swagger has no decorator for. Kept beside the DTO's validators by @ApiSchemaRules and
 * written into the document's component of that name by finishOpenApiDocument().
 */
export type SchemaRules = Pick<SchemaObject, 'anyOf' | 'minProperties'>;

const RULES = new Map<string, SchemaRules>();

/** Class decorator: the rules of this DTO's component schema (named after the class). */
export function ApiSchemaRules(rules: SchemaRules): ClassDecorator {
  return (target) => {
    RULES.set(target.name, rules);
  };
}

export function schemaRulesOf(name: string): SchemaRules | undefined {
  return RULES.get(name);
}
