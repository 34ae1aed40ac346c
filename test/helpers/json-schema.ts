// Test helper: a small JSON Schema (draft-07) validator for the subset the test schemas use. A
// keyword outside the subset throws, so a schema can never pass by being half understood.

export type JsonSchema = boolean | { [keyword: string]: unknown };

export interface SchemaError {
  /** JSON pointer of the offending value ('' = the document). */
  path: string;
  message: string;
}

// Keywords that only annotate.
const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'examples', 'definitions', 'default']);
const KNOWN = new Set([
  ...ANNOTATIONS, '$ref', 'type', 'const', 'enum', 'pattern', 'minLength', 'maxLength', 'minItems', 'maxItems',
  'items', 'required', 'properties', 'additionalProperties', 'minProperties', 'oneOf', 'anyOf', 'allOf', 'not',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const pointer = (path: string, key: string | number): string => `${path}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;

/** Validates `value` against `schema` (whose `$ref`s point into `#/definitions/…`); [] when valid. */
export function validate(schema: JsonSchema, value: unknown): SchemaError[] {
  const root = schema;
  const errors: SchemaError[] = [];

  const resolve = (ref: string): JsonSchema => {
    const m = /^#\/definitions\/([^/]+)$/.exec(ref);
    const target = m && typeof root === 'object' ? (root.definitions as Record<string, JsonSchema> | undefined)?.[m[1]!] : undefined;
    if (target === undefined) throw new Error(`Unsupported or dangling $ref "${ref}"`);
    return target;
  };

  const check = (s: JsonSchema, v: unknown, path: string, out: SchemaError[]): void => {
    if (s === true) return;
    if (s === false) { out.push({ path, message: 'no value is allowed here' }); return; }
    for (const keyword of Object.keys(s)) {
      if (!KNOWN.has(keyword)) throw new Error(`Schema keyword "${keyword}" is not supported by this validator`);
    }
    const fail = (message: string): void => { out.push({ path, message }); };
    if (typeof s.$ref === 'string') check(resolve(s.$ref), v, path, out);

    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      const actual = typeOf(v);
      if (!types.some((t) => t === actual || (t === 'number' && actual === 'integer'))) {
        fail(`must be ${types.join(' or ')}, is ${actual}`);
        return; // the other keywords would only repeat the mismatch
      }
    }
    if ('const' in s && !deepEqual(s.const, v)) fail(`must be ${JSON.stringify(s.const)}`);
    if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(e, v))) fail(`must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`);

    if (typeof v === 'string') {
      if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v)) fail(`must match ${s.pattern}`);
      const length = [...v].length;
      if (typeof s.minLength === 'number' && length < s.minLength) fail(`must have at least ${s.minLength} characters`);
      if (typeof s.maxLength === 'number' && length > s.maxLength) fail(`must have at most ${s.maxLength} characters`);
    }

    if (Array.isArray(v)) {
      if (typeof s.minItems === 'number' && v.length < s.minItems) fail(`must have at least ${s.minItems} items`);
      if (typeof s.maxItems === 'number' && v.length > s.maxItems) fail(`must have at most ${s.maxItems} items`);
      if (s.items !== undefined) {
        if (Array.isArray(s.items)) throw new Error('Tuple "items" is not supported by this validator');
        v.forEach((item, i) => check(s.items as JsonSchema, item, pointer(path, i), out));
      }
    }

    if (typeOf(v) === 'object') {
      const obj = v as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, JsonSchema>;
      for (const key of (s.required ?? []) as string[]) {
        if (!Object.hasOwn(obj, key)) fail(`must have property "${key}"`);
      }
      if (typeof s.minProperties === 'number' && Object.keys(obj).length < s.minProperties) fail(`must have at least ${s.minProperties} properties`);
      for (const [key, item] of Object.entries(obj)) {
        if (Object.hasOwn(props, key)) check(props[key]!, item, pointer(path, key), out);
        else if (s.additionalProperties === false) out.push({ path: pointer(path, key), message: `unknown property "${key}"` });
        else if (s.additionalProperties !== undefined) check(s.additionalProperties as JsonSchema, item, pointer(path, key), out);
      }
    }

    const branches = (keyword: 'oneOf' | 'anyOf' | 'allOf'): SchemaError[][] =>
      ((s[keyword] ?? []) as JsonSchema[]).map((branch) => { const e: SchemaError[] = []; check(branch, v, path, e); return e; });
    if (s.allOf !== undefined) for (const e of branches('allOf')) out.push(...e);
    if (s.anyOf !== undefined) {
      const results = branches('anyOf');
      if (!results.some((e) => e.length === 0)) fail(`must match a schema of anyOf (${closest(results)})`);
    }
    if (s.oneOf !== undefined) {
      const results = branches('oneOf');
      const passing = results.filter((e) => e.length === 0).length;
      if (passing !== 1) fail(passing === 0 ? `must match exactly one schema of oneOf (${closest(results)})` : `matches ${passing} schemas of oneOf, must match exactly one`);
    }
    if (s.not !== undefined) {
      const e: SchemaError[] = [];
      check(s.not as JsonSchema, v, path, e);
      if (e.length === 0) fail('must not match the "not" schema');
    }
  };

  check(schema, value, '', errors);
  return errors;
}

/** The errors of the branch that came closest, so a oneOf failure still names the real problem. */
function closest(results: SchemaError[][]): string {
  const best = [...results].sort((a, b) => a.length - b.length)[0] ?? [];
  return best.map((e) => `${e.path || '/'}: ${e.message}`).join('; ');
}
