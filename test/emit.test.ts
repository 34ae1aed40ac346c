// Emit: the deployable formats (ARM, Bicep, Terraform, az CLI) on the fixture estate as goldens,
// whole estate and per perimeter; ARM against a JSON Schema of the 2024-07-01 access rule; the
// script through bash and a flag parser; HCL block shape; hostile names and values kept literal.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { addRecord, emptySummary } from '../src/analyze/index.js';
import { isNspError } from '../src/errors.js';
import { listInputFiles, readRecords } from '../src/ingest/index.js';
import type { FlowSummary } from '../src/model/flow-summary.js';
import type { ProfileRules, RecommendedRule, RuleSet } from '../src/model/rule-set.js';
import { emitFiles, emitters, formatNames, type Format } from '../src/recommend/emit/index.js';
import { recommend } from '../src/recommend/index.js';
import { expectGolden } from './helpers/golden.js';
import { validate, type JsonSchema } from './helpers/json-schema.js';

const GOLDEN = 'test/golden/estate';
const DEPLOYABLE = ['arm', 'bicep', 'terraform', 'azcli'] as const satisfies readonly Format[];
const WHOLE_ESTATE_GOLDEN: Record<(typeof DEPLOYABLE)[number], string> = {
  arm: 'expected.arm.json', bicep: 'expected.bicep', terraform: 'expected.tf', azcli: 'expected.azcli.sh',
};
const SCHEMA = JSON.parse(readFileSync('test/schemas/nsp-access-rule-2024-07-01.schema.json', 'utf8')) as JsonSchema;
const ACCESS_RULE_TYPE = 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules';
const SUB0 = '00000000-0000-0000-0000-000000000000';

async function estate(): Promise<FlowSummary> {
  const s = emptySummary();
  for await (const r of readRecords(await listInputFiles(['fixtures/estate/storage-account']))) addRecord(s, r);
  return s;
}

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'nspa-emit-'));
const elementKeys = ['addressPrefixes', 'subscriptions', 'fullyQualifiedDomainNames'];
/** A rule's ARM properties, computed independently of the emitters: RuleSet names are ARM names. */
function armProperties(rule: RecommendedRule): Record<string, unknown> {
  const properties: Record<string, unknown> = { direction: rule.direction };
  for (const [key, value] of Object.entries(rule)) if (elementKeys.includes(key)) properties[key] = value;
  return properties;
}

// Terraform is optional: its checks run where it is installed. No update check over the network.
const TF_ENV = { ...process.env, CHECKPOINT_DISABLE: '1' };
function hasTerraform(): boolean {
  try { execFileSync('terraform', ['version'], { stdio: 'ignore', env: TF_ENV }); return true; } catch { return false; }
}
const HAS_TERRAFORM = hasTerraform();

let ruleSet: RuleSet;
beforeAll(async () => { ruleSet = recommend(await estate()).ruleSet; });

// ---------------------------------------------------------------------------------------------
// Readers the checks below use: an ARM expression's literals, bash words, Bicep and HCL strings.

/** The string literals of an ARM expression (`'…'`, `''` for a quote), in order. */
function armExpressionLiterals(expression: string): string[] {
  return [...expression.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replace(/''/g, "'"));
}
/** What ARM reads from a template string that is not an expression. */
const armUnescape = (s: string): string => (s.startsWith('[[') ? s.slice(1) : s);

interface ArmTemplate {
  parameters: Record<string, { defaultValue: string }>;
  resources: { type: string; name: string; properties: Record<string, unknown>; subscriptionId?: string; resourceGroup?: string }[];
}

/** [perimeter, profile, rule] of an access-rule resource, the perimeter from the nspName default. */
function armRuleName(template: ArmTemplate, name: string): string[] {
  const m = /^\[format\('\{0\}\/\{1\}\/\{2\}', parameters\('nspName'\), ('(?:[^']|'')*'), ('(?:[^']|'')*')\)\]$/.exec(name);
  if (!m) throw new Error(`Unexpected access-rule name ${name}`);
  return [armUnescape(template.parameters.nspName!.defaultValue), ...armExpressionLiterals(`${m[1]} ${m[2]}`)];
}

/**
 * Splits a bash script into simple commands the way bash tokenizes them: comments, single quotes,
 * backslash escapes and line continuations. Anything else the emitters never write (double quotes,
 * unquoted `$` or backticks, operators) throws, so it cannot slip through unread.
 */
function shellCommands(script: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word: string | null = null;
  const endWord = (): void => { if (word !== null) words.push(word); word = null; };
  const endCommand = (): void => { endWord(); if (words.length) commands.push(words); words = []; };
  for (let i = 0; i < script.length;) {
    const c = script[i]!;
    if (c === '\\') {
      if (script[i + 1] !== '\n') word = (word ?? '') + script[i + 1];
      i += 2;
    } else if (c === "'") {
      const end = script.indexOf("'", i + 1);
      if (end < 0) throw new Error(`Unterminated single quote at ${i}`);
      word = (word ?? '') + script.slice(i + 1, end);
      i = end + 1;
    } else if (c === '#' && word === null) {
      const nl = script.indexOf('\n', i);
      i = nl < 0 ? script.length : nl;
    } else if (c === '\n' || c === ';') {
      endCommand();
      i++;
    } else if (c === ' ' || c === '\t') {
      endWord();
      i++;
    } else if ('"$`|&<>()'.includes(c)) {
      throw new Error(`Unquoted ${JSON.stringify(c)} at ${i}`);
    } else {
      word = (word ?? '') + c;
      i++;
    }
  }
  endCommand();
  return commands;
}

/** The Azure CLI's reading of a string argument: its `'…'` form (`'/` for `'`), else the text. */
function aazDecode(text: string): string {
  if (!text.startsWith("'")) return text;
  expect(text.endsWith("'"), text).toBe(true);
  return text.slice(1, -1).replace(/'\//g, "'");
}

const AZ_CREATE = ['az', 'network', 'perimeter', 'profile', 'access-rule', 'create'];
const AZ_FLAGS = new Set(['--name', '-n', '--profile-name', '--perimeter-name', '--resource-group', '-g', '--direction',
  '--address-prefixes', '--fqdn', '--subscriptions', '--subscription']);
const AZ_ELEMENT_FLAGS = ['--address-prefixes', '--fqdn', '--subscriptions'];

/** Flags of one `access-rule create`, checked against the documented set; flag → value. */
function azCreateFlags(words: string[]): Map<string, string> {
  expect(words.slice(0, AZ_CREATE.length)).toEqual(AZ_CREATE);
  const flags = new Map<string, string>();
  const rest = words.slice(AZ_CREATE.length);
  for (let i = 0; i < rest.length; i += 2) {
    const flag = rest[i]!;
    expect(AZ_FLAGS.has(flag), `unknown flag ${flag}`).toBe(true);
    expect(flags.has(flag), `repeated flag ${flag}`).toBe(false);
    expect(i + 1 < rest.length, `${flag} has no value`).toBe(true);
    const value = rest[i + 1]!;
    expect(value.startsWith('--'), `${flag} has no value`).toBe(false);
    flags.set(flag, value);
  }
  for (const f of ['--name', '--profile-name', '--perimeter-name', '--resource-group', '--subscription']) {
    expect(flags.has(f), `missing ${f}`).toBe(true);
  }
  expect(['Inbound', 'Outbound']).toContain(flags.get('--direction'));
  const elements = AZ_ELEMENT_FLAGS.filter((f) => flags.has(f));
  expect(elements, 'exactly one element flag').toHaveLength(1);
  const list = JSON.parse(flags.get(elements[0]!)!) as unknown;
  expect(Array.isArray(list)).toBe(true);
  return flags;
}

/** The element list of a create command, in RuleSet form (subscriptions as their ids). */
function azElements(flags: Map<string, string>): [string, unknown[]] {
  const flag = AZ_ELEMENT_FLAGS.find((f) => flags.has(f))!;
  return [flag, JSON.parse(flags.get(flag)!) as unknown[]];
}

interface Literal { value: string; raw: string }
/**
 * Bicep source read as its lexer would for strings: `//` comments dropped, `'…'` literals decoded
 * (a raw line break inside one, or an unknown escape, is an error); the rest comes back as code.
 */
function bicepLex(source: string): { literals: Literal[]; code: string } {
  const literals: Literal[] = [];
  let code = '';
  for (let i = 0; i < source.length;) {
    if (source.startsWith('//', i)) {
      const nl = source.indexOf('\n', i);
      i = nl < 0 ? source.length : nl;
    } else if (source[i] === "'") {
      let value = '';
      let j = i + 1;
      for (; source[j] !== "'"; j++) {
        if (j >= source.length || source[j] === '\n' || source[j] === '\r') throw new Error(`Unterminated Bicep string at ${i}`);
        if (source[j] === '$' && source[j + 1] === '{') throw new Error(`Interpolation in Bicep string at ${j}`);
        if (source[j] !== '\\') { value += source[j]; continue; }
        const e = source[++j];
        const simple: Record<string, string> = { '\\': '\\', "'": "'", n: '\n', r: '\r', t: '\t', $: '$' };
        if (e !== undefined && e in simple) value += simple[e];
        else if (e === 'u') {
          const m = /^\{([0-9A-Fa-f]{1,6})\}/.exec(source.slice(j + 1));
          if (!m) throw new Error(`Bad \\u escape at ${j}`);
          value += String.fromCodePoint(parseInt(m[1]!, 16));
          j += m[0].length;
        } else throw new Error(`Unknown Bicep escape \\${e} at ${j}`);
      }
      literals.push({ value, raw: source.slice(i, j + 1) });
      code += "''";
      i = j + 1;
    } else code += source[i++];
  }
  return { literals, code };
}

/**
 * HCL source read as its lexer would for quoted strings: `#` comments dropped, `"…"` decoded with
 * the template escapes `$${` and `%%{`; an unescaped `${` or `%{` (an interpolation) is an error.
 */
function hclLex(source: string): { literals: Literal[]; code: string } {
  const literals: Literal[] = [];
  let code = '';
  for (let i = 0; i < source.length;) {
    if (source[i] === '#') {
      const nl = source.indexOf('\n', i);
      i = nl < 0 ? source.length : nl;
    } else if (source[i] === '"') {
      let value = '';
      let j = i + 1;
      for (; source[j] !== '"'; j++) {
        if (j >= source.length || source[j] === '\n') throw new Error(`Unterminated HCL string at ${i}`);
        const two = source.slice(j, j + 3);
        if (two === '$${' || two === '%%{') { value += two.slice(1); j += 2; continue; }
        if (source.startsWith('${', j) || source.startsWith('%{', j)) throw new Error(`Template sequence in HCL string at ${j}`);
        if (source[j] !== '\\') { value += source[j]; continue; }
        const e = source[++j];
        const simple: Record<string, string> = { '\\': '\\', '"': '"', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) value += simple[e];
        else if (e === 'u' && /^[0-9A-Fa-f]{4}$/.test(source.slice(j + 1, j + 5))) {
          value += String.fromCharCode(parseInt(source.slice(j + 1, j + 5), 16));
          j += 4;
        } else throw new Error(`Unknown HCL escape \\${e} at ${j}`);
      }
      literals.push({ value, raw: source.slice(i, j + 1) });
      code += '""';
      i = j + 1;
    } else code += source[i++];
  }
  return { literals, code };
}

interface HclBlock { labels: string[]; attributes: Map<string, string> }
/** Top-level `resource`/`variable` blocks of the emitted Terraform with their attribute values (raw). */
function hclBlocks(source: string, kind: 'resource' | 'variable'): HclBlock[] {
  const blocks: HclBlock[] = [];
  for (const m of source.matchAll(new RegExp(`^${kind}((?: "(?:[^"\\\\]|\\\\.)*")+) \\{\\n([\\s\\S]*?)\\n\\}$`, 'gm'))) {
    const labels = hclLex(m[1]!).literals.map((l) => l.value);
    const attributes = new Map<string, string>();
    for (const a of m[2]!.matchAll(/^ {2}([a-z_]+) +=\s([\s\S]*?)(?=\n {2}[a-z_]+ +=|$(?![\s\S]))/gm)) {
      expect(attributes.has(a[1]!), `repeated ${a[1]}`).toBe(false);
      attributes.set(a[1]!, a[2]!);
    }
    blocks.push({ labels, attributes });
  }
  return blocks;
}

// ---------------------------------------------------------------------------------------------

describe('registry', () => {
  it('lists every format once, with a description, a file suffix and whether it splits per perimeter', () => {
    expect(formatNames).toEqual(['json', 'arm', 'bicep', 'terraform', 'azcli']);
    expect(formatNames.map((f) => [f, emitters[f].perPerimeter, emitters[f].fileSuffix])).toEqual([
      ['json', false, '.json'], ['arm', true, '.arm.json'], ['bicep', true, '.bicep'], ['terraform', false, '.tf'], ['azcli', false, '.azcli.sh'],
    ]);
    for (const f of formatNames) expect(emitters[f].describe.length).toBeGreaterThan(10);
  });

  it('gives one file per perimeter for per-perimeter formats and one file otherwise', () => {
    expect(emitFiles(ruleSet, 'arm').map((f) => f.name)).toEqual(['nsp-dev.arm.json', 'nsp-prod.arm.json']);
    expect(emitFiles(ruleSet, 'bicep').map((f) => f.name)).toEqual(['nsp-dev.bicep', 'nsp-prod.bicep']);
    for (const format of ['json', 'terraform', 'azcli'] as const) {
      expect(emitFiles(ruleSet, format)).toEqual([{ name: `nsp-rules${emitters[format].fileSuffix}`, content: emitters[format].emit(ruleSet) }]);
    }
  });

  it('writes no per-perimeter file when nothing needs a rule, but still one whole-estate file', () => {
    const empty: RuleSet = { ...ruleSet, profiles: ruleSet.profiles.map((p) => ({ ...p, rules: [] })) };
    expect(emitFiles(empty, 'arm')).toEqual([]);
    expect(emitFiles(empty, 'bicep')).toEqual([]);
    expect(emitFiles(empty, 'terraform')).toHaveLength(1);
  });

  it('names files of same-named perimeters apart, case-insensitively', () => {
    const twin = ruleSet.profiles[0]!;
    const other: ProfileRules = { ...twin, perimeterId: twin.perimeterId.replace('/rg-dev/', '/rg-other/').replace(/nsp-dev$/, 'NSP-DEV') };
    const names = emitFiles({ ...ruleSet, profiles: [twin, other] }, 'arm').map((f) => f.name);
    expect(names).toEqual(['nsp-dev.arm.json', 'NSP-DEV-2.arm.json']);
  });
});

describe('goldens on the fixture estate', () => {
  it.each(DEPLOYABLE)('%s, whole estate', (format) => {
    expectGolden(emitters[format].emit(ruleSet), `${GOLDEN}/${WHOLE_ESTATE_GOLDEN[format]}`);
  });

  it.each(['arm', 'bicep'] as const)('%s, one file per perimeter', (format) => {
    for (const file of emitFiles(ruleSet, format)) expectGolden(file.content, `${GOLDEN}/per-perimeter/${file.name}`);
  });

  it('is deterministic: the same RuleSet gives the same bytes', () => {
    for (const format of formatNames) {
      expect(emitters[format].emit(ruleSet)).toBe(emitters[format].emit(structuredClone(ruleSet)));
      expect(emitFiles(ruleSet, format)).toEqual(emitFiles(structuredClone(ruleSet), format));
    }
  });

  it('marks a rule that extends one in place (--extend-existing) for the reviewer, content unchanged', () => {
    const extended: RuleSet = { ...ruleSet, profiles: [{ ...ruleSet.profiles[0]!, rules: [{ ...ruleSet.profiles[0]!.rules[0]!, extendsExisting: true }] }] };
    const plain: RuleSet = { ...ruleSet, profiles: [{ ...ruleSet.profiles[0]!, rules: [ruleSet.profiles[0]!.rules[0]!] }] };
    for (const [format, note] of [['bicep', '// Extends the rule in place'], ['terraform', '# Extends the rule in place (import it first)'], ['azcli', '# Extends the rule in place']] as const) {
      const out = emitters[format].emit(extended);
      expect(out, format).toContain(note);
      expect(out.split('\n').filter((l) => !l.includes('Extends the rule in place')).join('\n'), format).toBe(emitters[format].emit(plain));
    }
    expect(emitters.arm.emit(extended)).toBe(emitters.arm.emit(plain));
  });

  it('writes no evidence into deployable output', () => {
    for (const format of DEPLOYABLE) {
      const out = emitters[format].emit(ruleSet);
      expect(out, format).not.toMatch(/evidence|firstSeen|lastSeen|2026-11-/);
    }
  });
});

describe('ARM', () => {
  it('validates against the 2024-07-01 access-rule schema, whole estate and per perimeter', () => {
    expect(validate(SCHEMA, JSON.parse(emitters.arm.emit(ruleSet)))).toEqual([]);
    for (const file of emitFiles(ruleSet, 'arm')) expect(validate(SCHEMA, JSON.parse(file.content)), file.name).toEqual([]);
  });

  it('has one resource per rule, in RuleSet order, with exactly the rule\'s properties', () => {
    const files = emitFiles(ruleSet, 'arm');
    const found: [string[], Record<string, unknown>][] = [];
    for (const file of files) {
      const template = JSON.parse(file.content) as ArmTemplate;
      for (const r of template.resources) {
        expect(r.type).toBe(ACCESS_RULE_TYPE);
        expect(Object.keys(r.properties).filter((k) => elementKeys.includes(k))).toHaveLength(1);
        found.push([armRuleName(template, r.name), r.properties]);
      }
    }
    expect(found).toEqual(ruleSet.profiles.flatMap((p) => p.rules.map((rule) => [
      [p.perimeterId.split('/').pop(), p.profile, rule.name], armProperties(rule),
    ])));
  });

  it('aims one nested deployment per perimeter at its resource group, carrying the per-perimeter template', () => {
    const whole = JSON.parse(emitters.arm.emit(ruleSet)) as ArmTemplate & { resources: { properties: { template: unknown; parameters: unknown } }[] };
    const files = emitFiles(ruleSet, 'arm');
    expect(Object.keys(whole.parameters)).toEqual(['nspName_nsp_dev', 'nspName_nsp_prod']);
    expect(whole.resources.map((r) => [r.type, r.subscriptionId, r.resourceGroup])).toEqual([
      ['Microsoft.Resources/deployments', SUB0, 'rg-dev'], ['Microsoft.Resources/deployments', SUB0, 'rg-nsp'],
    ]);
    whole.resources.forEach((r, i) => {
      expect(r.properties.template).toEqual(JSON.parse(files[i]!.content));
      expect(r.properties.parameters).toEqual({ nspName: { value: `[parameters('${Object.keys(whole.parameters)[i]}')]` } });
    });
  });

  it('emits a single perimeter as the flat template', () => {
    const one: RuleSet = { ...ruleSet, profiles: ruleSet.profiles.slice(1) };
    expect(emitters.arm.emit(one)).toBe(emitFiles(ruleSet, 'arm')[1]!.content);
  });

  it('writes the API version asked for and refuses one that is not a version', () => {
    const template = JSON.parse(emitters.arm.emit(ruleSet, { apiVersion: '2025-05-01' })) as { resources: { properties: { template: ArmTemplate } }[] };
    expect(template.resources[0]!.properties.template.resources.every((r) => (r as unknown as { apiVersion: string }).apiVersion === '2025-05-01')).toBe(true);
    for (const format of ['arm', 'bicep'] as const) {
      let error: unknown;
      try { emitters[format].emit(ruleSet, { apiVersion: "2024-07-01'" }); } catch (e) { error = e; }
      expect(isNspError(error) && error.code).toBe('usage');
    }
  });

  it('is a valid template without resources when no rule is needed', () => {
    const empty: RuleSet = { version: 1, window: null, profiles: [] };
    const template = JSON.parse(emitters.arm.emit(empty)) as ArmTemplate;
    expect(validate(SCHEMA, template)).toEqual([]);
    expect(template.resources).toEqual([]);
  });
});

describe('the ARM schema validator', () => {
  const valid = (): { resources: { properties: Record<string, unknown> }[] } & Record<string, unknown> =>
    JSON.parse(emitFiles(ruleSet, 'arm')[1]!.content) as { resources: { properties: Record<string, unknown> }[] };
  const errorsOf = (mutate: (t: ReturnType<typeof valid>) => void): string[] => {
    const t = valid();
    mutate(t);
    return validate(SCHEMA, t).map((e) => `${e.path}: ${e.message}`);
  };

  it('rejects a Transition direction (a docs word, never on the wire)', () => {
    expect(errorsOf((t) => { t.resources[0]!.properties.direction = 'Transition'; }).join('\n'))
      .toMatch(/\/resources\/0.*direction: must be one of "Inbound", "Outbound"/);
  });

  it('rejects an unknown or read-only property, in the rule and in the resource', () => {
    expect(errorsOf((t) => { t.resources[0]!.properties.ipRanges = ['192.0.2.1/32']; }).join('\n')).toMatch(/unknown property "ipRanges"/);
    expect(errorsOf((t) => { t.resources[0]!.properties.provisioningState = 'Succeeded'; }).join('\n')).toMatch(/unknown property "provisioningState"/);
    expect(errorsOf((t) => { (t.resources[0] as Record<string, unknown>).evidence = {}; }).join('\n')).toMatch(/unknown property "evidence"/);
  });

  it('rejects subscriptions as bare strings, a missing direction and a wrong resource type', () => {
    expect(errorsOf((t) => { t.resources[0]!.properties.subscriptions = ['/subscriptions/x']; })).not.toEqual([]);
    expect(errorsOf((t) => { delete t.resources[0]!.properties.direction; }).join('\n')).toMatch(/must have property "direction"/);
    expect(errorsOf((t) => { (t.resources[0] as Record<string, unknown>).type = 'Microsoft.Network/networkSecurityPerimeters/profiles'; })).not.toEqual([]);
    expect(errorsOf((t) => { t.contentVersion = 'v1'; }).join('\n')).toMatch(/contentVersion: must match/);
  });

  it('refuses a schema keyword it does not implement instead of ignoring it', () => {
    expect(() => validate({ type: 'string', format: 'uri' }, 'x')).toThrow(/"format" is not supported/);
  });
});

describe('Bicep', () => {
  it('declares each perimeter and profile as existing and each rule as a child with its properties', () => {
    for (const file of emitFiles(ruleSet, 'bicep')) {
      const source = file.content;
      const declared = [...source.matchAll(/^(?:param|resource) (\w+) /gm)].map((m) => m[1]!);
      expect(new Set(declared.map((d) => d.toLowerCase())).size, 'unique identifiers').toBe(declared.length);
      expect(source).toMatch(/^param nspName string = '[^']+'$/m);
      expect(source).toMatch(/^resource \w+ 'Microsoft\.Network\/networkSecurityPerimeters@2024-07-01' existing = \{\n {2}name: nspName\n\}$/m);
      const profiles = new Set([...source.matchAll(/^resource (\w+) 'Microsoft\.Network\/networkSecurityPerimeters\/profiles@2024-07-01' existing = \{\n {2}parent: \w+\n/gm)].map((m) => m[1]!));
      const rules = [...source.matchAll(/^resource \w+ '([^']+)' = \{\n {2}parent: (\w+)\n {2}name: ('[^'\n]*')\n {2}properties: (\{[\s\S]*?\n {2}\})\n\}$/gm)];
      const perimeter = file.name.replace(/\.bicep$/, '');
      const expected = ruleSet.profiles.filter((p) => p.perimeterId.endsWith(`/${perimeter}`)).flatMap((p) => p.rules);
      expect(rules).toHaveLength(expected.length);
      rules.forEach((m, i) => {
        expect(m[1]).toBe(`${ACCESS_RULE_TYPE}@2024-07-01`);
        expect(profiles.has(m[2]!)).toBe(true);
        expect(bicepLex(m[3]!).literals[0]!.value).toBe(expected[i]!.name);
        const keys = [...m[4]!.matchAll(/^ {4}(\w+):/gm)].map((k) => k[1]!);
        expect(keys).toEqual(Object.keys(armProperties(expected[i]!)));
      });
    }
  });

  it('says a multi-resource-group estate needs one file per perimeter', () => {
    expect(emitters.bicep.emit(ruleSet)).toMatch(/these perimeters are in 2: deploy one file per\n\/\/ perimeter instead/);
    const sameGroup: RuleSet = { ...ruleSet, profiles: ruleSet.profiles.map((p) => ({ ...p, perimeterId: p.perimeterId.replace('/rg-dev/', '/rg-nsp/') })) };
    expect(emitters.bicep.emit(sameGroup)).toMatch(/All are in resource group rg-nsp, subscription 0{8}-[0-]+: deploy this file to that resource group/);
  });
});

describe('Terraform', () => {
  it('has one access-rule resource per rule with exactly one element attribute, fqdns only outbound', () => {
    const source = emitters.terraform.emit(ruleSet);
    const resources = hclBlocks(source, 'resource');
    const variables = new Map(hclBlocks(source, 'variable').map((v) => [v.labels[0]!, v]));
    const rules = ruleSet.profiles.flatMap((p) => p.rules.map((rule) => ({ p, rule })));
    expect(resources).toHaveLength(rules.length);
    expect(new Set(resources.map((r) => r.labels[1])).size).toBe(resources.length);
    resources.forEach((block, i) => {
      const { p, rule } = rules[i]!;
      expect(block.labels[0]).toBe('azurerm_network_security_perimeter_access_rule');
      expect(block.labels[1]).toMatch(/^[a-z][a-z0-9_]*$/);
      const a = block.attributes;
      expect(hclLex(a.get('name')!).literals[0]!.value).toBe(rule.name);
      const direction = hclLex(a.get('direction')!).literals[0]!.value;
      expect(direction).toBe(rule.direction);
      const present = ['address_prefixes', 'fqdns', 'subscription_ids'].filter((k) => a.has(k));
      expect(present).toHaveLength(1);
      if (present[0] === 'fqdns') expect(direction).toBe('Outbound');
      else expect(direction).toBe('Inbound');
      const values = hclLex(a.get(present[0]!)!).literals.map((l) => l.value);
      expect(values).toEqual('subscriptions' in rule ? rule.subscriptions.map((s) => s.id) : Object.values(armProperties(rule))[1]);
      if (present[0] === 'subscription_ids') for (const v of values) expect(v).toMatch(/^\/subscriptions\/[0-9a-f-]{36}$/);
      const variable = /^var\.([a-z0-9_]+)$/.exec(a.get('network_security_perimeter_profile_id')!)![1]!;
      expect(hclLex(variables.get(variable)!.attributes.get('default')!).literals[0]!.value).toBe(`${p.perimeterId}/profiles/${p.profile}`);
    });
  });

  it.skipIf(!HAS_TERRAFORM)('is already in terraform fmt layout', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'main.tf'), emitters.terraform.emit(ruleSet));
    execFileSync('terraform', ['fmt', '-check', '-diff', '-no-color', dir], { encoding: 'utf8', env: TF_ENV });
  });
});

describe('Azure CLI script', () => {
  const writeScript = (content: string): string => {
    const file = join(tempDir(), 'rules.azcli.sh');
    writeFileSync(file, content);
    return file;
  };

  it('passes bash -n', () => {
    execFileSync('bash', ['-n', writeScript(emitters.azcli.emit(ruleSet))]);
  });

  it('runs one documented create per rule, every flag with a value, after installing the extension', () => {
    const commands = shellCommands(emitters.azcli.emit(ruleSet));
    expect(commands.slice(0, 2)).toEqual([['set', '-euo', 'pipefail'], ['az', 'extension', 'add', '--name', 'nsp', '--upgrade', '--only-show-errors']]);
    const creates = commands.slice(2);
    const rules = ruleSet.profiles.flatMap((p) => p.rules.map((rule) => ({ p, rule })));
    expect(creates).toHaveLength(rules.length);
    creates.forEach((words, i) => {
      const { p, rule } = rules[i]!;
      const flags = azCreateFlags(words);
      const [, , subscription, , resourceGroup, , , , perimeter] = p.perimeterId.split('/');
      expect([flags.get('--subscription'), flags.get('--resource-group'), flags.get('--perimeter-name'), flags.get('--profile-name'), flags.get('--name'), flags.get('--direction')])
        .toEqual([subscription, resourceGroup, perimeter, p.profile, rule.name, rule.direction]);
      const [flag, list] = azElements(flags);
      const [key, values] = Object.entries(armProperties(rule)).find(([k]) => elementKeys.includes(k))!;
      expect(flag).toBe({ addressPrefixes: '--address-prefixes', subscriptions: '--subscriptions', fullyQualifiedDomainNames: '--fqdn' }[key]);
      expect(list).toEqual(values);
    });
  });

  it('is a valid script that only installs the extension when no rule is needed', () => {
    const script = emitters.azcli.emit({ version: 1, window: null, profiles: [] });
    execFileSync('bash', ['-n', writeScript(script)]);
    expect(shellCommands(script)).toHaveLength(2);
  });
});

// ---------------------------------------------------------------------------------------------

describe('hostile names and values', () => {
  // Everything a quoting bug would let through: quotes of every language, shell and template
  // expansions, backslashes, line breaks, a bidi override and ARM's expression brackets.
  const NASTY = `a'b"c$HOME\${x}%{y}$(touch pwned)\`id\`\\n\\'z\nnew\r\tline\u202e;|&`;
  const perimeter = `nsp-${NASTY}`;
  const resourceGroup = `rg-${NASTY}`;
  const perimeterId = `/subscriptions/${SUB0}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/networkSecurityPerimeters/${perimeter}`;
  const evidence = { hits: 1, firstSeen: '2026-11-02T00:00:00Z', lastSeen: '2026-11-02T00:00:00Z', daysSeen: 1, sources: 1, resources: [] };
  const rules: RecommendedRule[] = [
    { name: `in-${NASTY}`, direction: 'Inbound', addressPrefixes: [`[concat('198.51.100.1/32')]`, `1.2.3.4/32'; rm -rf ~ #`], evidence },
    { name: `'quoted-${NASTY}`, direction: 'Inbound', subscriptions: [{ id: `/subscriptions/${NASTY}` }], evidence },
    { name: '@/etc/passwd', direction: 'Outbound', fullyQualifiedDomainNames: [`${NASTY}.example`, '[x]', 'null'], evidence },
  ];
  const profile = `prof-${NASTY}`;
  const hostile: RuleSet = { version: 1, window: null, profiles: [{ perimeterId, profile, resources: [], rules, unresolved: [] }] };
  const strings = [perimeter, resourceGroup, profile, ...rules.flatMap((r) => [r.name, ...Object.values(armProperties(r)).flat()])]
    .flatMap((v) => (typeof v === 'string' ? [v] : [(v as { id: string }).id]));

  it('ARM: JSON and ARM expressions give back every value exactly', () => {
    const template = JSON.parse(emitters.arm.emit(hostile)) as ArmTemplate;
    expect(validate(SCHEMA, template)).toEqual([]);
    expect(template.resources.map((r) => armRuleName(template, r.name))).toEqual(rules.map((r) => [perimeter, profile, r.name]));
    const unescapeAll = (v: unknown): unknown => (typeof v === 'string' ? armUnescape(v) : Array.isArray(v) ? v.map(unescapeAll)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unescapeAll(x)])) : v);
    expect(template.resources.map((r) => unescapeAll(r.properties))).toEqual(rules.map(armProperties));
    // A literal that looks like an expression must not be read as one.
    expect(template.resources[0]!.properties.addressPrefixes).toContain(`[[concat('198.51.100.1/32')]`);
  });

  it('Bicep: every string is a closed literal that decodes to the value, and no code is injected', () => {
    const source = emitters.bicep.emit(hostile);
    const { literals, code } = bicepLex(source);
    const values = literals.map((l) => l.value);
    for (const s of strings.filter((s) => s !== resourceGroup)) expect(values).toContain(s);
    expect(values.some((v) => v.includes(`(resource group ${resourceGroup}, `))).toBe(true);
    // Outside literals and comments only Bicep syntax remains: no quotes, `$`, backslashes or stray text.
    expect(code).not.toMatch(/["$\\`;|&]/);
    expect(code.split('\n').filter((l) => l.startsWith('resource '))).toHaveLength(2 + rules.length);
    // Comments hold the names too; a line break inside one would end the comment.
    for (const line of source.split('\n')) if (line.startsWith('//')) expect(line).not.toMatch(/[\r\u202e]/);
  });

  it('Terraform: every string is a closed literal that decodes to the value, nothing interpolated', () => {
    const source = emitters.terraform.emit(hostile);
    const { literals, code } = hclLex(source);
    for (const s of [...strings.filter((s) => ![perimeter, resourceGroup, profile].includes(s)), `${perimeterId}/profiles/${profile}`]) {
      expect(literals.map((l) => l.value)).toContain(s);
    }
    expect(code).not.toMatch(/['$\\`;|&]/);
    expect(hclBlocks(source, 'resource')).toHaveLength(rules.length);
  });

  it.skipIf(!HAS_TERRAFORM)('Terraform: terraform itself reads the literals as the values', () => {
    const source = emitters.terraform.emit(hostile);
    const dir = tempDir();
    writeFileSync(join(dir, 'main.tf'), source);
    execFileSync('terraform', ['fmt', '-check', '-no-color', dir], { env: TF_ENV });
    const { literals } = hclLex(source);
    writeFileSync(join(dir, 'main.tf'), `locals {\n  s = [\n${literals.map((l) => `    ${l.raw},`).join('\n')}\n  ]\n}\n`);
    const out = execFileSync('terraform', ['console'], { cwd: dir, input: 'base64encode(jsonencode(local.s))\n', encoding: 'utf8', env: TF_ENV });
    const decoded = JSON.parse(Buffer.from(/"([A-Za-z0-9+/=]+)"/.exec(out)![1]!, 'base64').toString('utf8')) as string[];
    expect(decoded).toEqual(literals.map((l) => l.value));
  });

  it('az CLI: bash hands az every value byte for byte, and nothing runs', () => {
    const script = emitters.azcli.emit(hostile);
    const dir = tempDir();
    const file = join(dir, 'rules.azcli.sh');
    writeFileSync(file, script);
    execFileSync('bash', ['-n', file]);
    // `az` becomes a function printing its arguments NUL-separated, one record per call.
    const out = execFileSync('bash', ['-c', 'az() { printf "%s\\0" "$@"; printf "\\1"; }; . "$1"', 'bash', file], { cwd: dir, encoding: 'utf8' });
    const calls = out.split('\u0001').filter(Boolean).map((c) => c.split('\0').slice(0, -1));
    expect(calls[0]).toEqual(['extension', 'add', '--name', 'nsp', '--upgrade', '--only-show-errors']);
    const creates = calls.slice(1);
    expect(creates).toHaveLength(rules.length);
    creates.forEach((args, i) => {
      const rule = rules[i]!;
      const flags = azCreateFlags(['az', ...args]);
      expect(aazDecode(flags.get('--resource-group')!)).toBe(resourceGroup);
      expect(aazDecode(flags.get('--perimeter-name')!)).toBe(perimeter);
      expect(aazDecode(flags.get('--profile-name')!)).toBe(profile);
      expect(aazDecode(flags.get('--name')!)).toBe(rule.name);
      expect(azElements(flags)[1]).toEqual(Object.values(armProperties(rule))[1]);
    });
    // Plain values pass byte-identical; only those the CLI would misread get its own quoting.
    expect(creates[0]![creates[0]!.indexOf('--name') + 1]).toBe(rules[0]!.name);
    expect(creates[1]![creates[1]!.indexOf('--name') + 1]).toBe(`''/quoted-${NASTY.replace(/'/g, "'/")}'`);
    expect(creates[2]![creates[2]!.indexOf('--name') + 1]).toBe("'@/etc/passwd'");
    // The same words come out of the test's own tokenizer, so the flag checks above read what bash runs.
    expect(shellCommands(script).slice(2).map((w) => w.slice(1))).toEqual(creates);
    expect(readFileSync(file, 'utf8')).toBe(script);
    expect(() => readFileSync(join(dir, 'pwned'))).toThrow();
  });
});
