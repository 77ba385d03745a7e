// Validates a generated Backstage catalog (OUT/catalog) the way the catalog backend does:
//   1. each entity file is read like the backend's parseEntityYaml (npm `yaml`, every document a
//      plain object; errors reported);
//   2. placeholders are resolved like its PlaceholderProcessor (`$text`, `$json`, `$yaml`,
//      relative to the entity file; the file must exist; an unknown `$` key is an error);
//   3. the entity policies of CatalogBuilder, in its order: SchemaValidEntityPolicy,
//      DefaultNamespaceEntityPolicy, NoForeignRootFieldsEntityPolicy, FieldFormatEntityPolicy;
//   4. kind validation like BuiltinKindsEntityProcessor: one of the built-in kind validators must
//      accept the entity (each is the kind's JSON schema via entityKindSchemaValidator);
//   5. every relation field parses with parseEntityRef using the field's default kind, as the
//      processor does when it emits relations, and names an entity of this catalog;
//   6. location.yaml's targets are exactly the entity files, and every other file under the
//      catalog is a definition some API's placeholder reads.
// Usage: node .ci/backstage-validate.mjs OUT/catalog
// Prints one summary line; exits 1 on any failure.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

// Resolves from this script's folder, so .ci/node_modules is found from any working directory.
const require = createRequire(import.meta.url);
const cm = require('@backstage/catalog-model');
const YAML = require('yaml');

const dir = process.argv[2];
if (!dir || !fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
  console.error('usage: node .ci/backstage-validate.mjs OUT/catalog');
  process.exit(2);
}

const policy = cm.EntityPolicies.allOf([
  new cm.SchemaValidEntityPolicy(),
  new cm.DefaultNamespaceEntityPolicy(),
  new cm.NoForeignRootFieldsEntityPolicy(),
  new cm.FieldFormatEntityPolicy(cm.makeValidator()),
]);
const kindValidators = [
  cm.apiEntityV1alpha1Validator,
  cm.componentEntityV1alpha1Validator,
  cm.domainEntityV1alpha1Validator,
  cm.groupEntityV1alpha1Validator,
  cm.locationEntityV1alpha1Validator,
  cm.resourceEntityV1alpha1Validator,
  cm.systemEntityV1alpha1Validator,
  cm.userEntityV1alpha1Validator,
];
// Relation fields per kind with their default kind (undefined: the ref must name its kind).
const relationFields = {
  component: { 'spec.owner': 'Group', 'spec.subcomponentOf': 'Component', 'spec.providesApis': 'API',
    'spec.consumesApis': 'API', 'spec.dependsOn': undefined, 'spec.dependencyOf': undefined, 'spec.system': 'System' },
  api: { 'spec.owner': 'Group', 'spec.system': 'System' },
  resource: { 'spec.owner': 'Group', 'spec.dependsOn': undefined, 'spec.dependencyOf': undefined, 'spec.system': 'System' },
  group: { 'spec.parent': 'Group', 'spec.children': 'Group', 'spec.members': 'User' },
  user: { 'spec.memberOf': 'Group' },
  system: { 'spec.owner': 'Group', 'spec.domain': 'Domain' },
  domain: { 'spec.owner': 'Group', 'spec.subdomainOf': 'Domain' },
  location: {},
};

function walk(d) {
  return fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(d, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

const problems = [];
const readFiles = new Set();
function resolvePlaceholders(value, file) {
  if (Array.isArray(value)) return value.map((v) => resolvePlaceholders(v, file));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0].startsWith('$')) {
    const [key] = keys;
    const target = value[key];
    if (typeof target !== 'string') throw new Error(`placeholder ${key} must name a file`);
    const p = path.resolve(path.dirname(file), target);
    if (!fs.existsSync(p)) throw new Error(`placeholder ${key}: ${target} does not exist`);
    readFiles.add(p);
    const text = fs.readFileSync(p, 'utf8');
    if (key === '$text') return text;
    if (key === '$json') return JSON.parse(text);
    if (key === '$yaml') return YAML.parse(text);
    throw new Error(`unknown placeholder ${key}`);
  }
  return Object.fromEntries(keys.map((k) => [k, resolvePlaceholders(value[k], file)]));
}

const all = walk(dir).sort();
const entityFiles = all.filter((f) => f.endsWith('.yaml') && !path.basename(f).includes('.definition.'));
const entities = []; // { file, entity }
for (const file of entityFiles) {
  const rel = path.relative(dir, file);
  try {
    const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).filter((d) => d);
    if (docs.length !== 1) throw new Error(`expected one document, found ${docs.length}`);
    if (docs[0].errors?.length) throw new Error(`YAML error: ${docs[0].errors[0]}`);
    const json = docs[0].toJSON();
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('expected an object at the root');
    const resolved = resolvePlaceholders(json, file);
    const entity = await policy.enforce(resolved);
    let known = false;
    for (const v of kindValidators) {
      if (await v.check(entity)) { known = true; break; }
    }
    if (!known) throw new Error(`no kind validator accepts kind ${entity.kind} (${entity.apiVersion})`);
    const expected = path.join(entity.kind.toLowerCase(), `${entity.metadata.name}.yaml`);
    if (entity.kind !== 'Location' && rel !== expected) throw new Error(`a ${entity.kind} named ${entity.metadata.name} belongs in ${expected}`);
    entities.push({ file, rel, entity });
  } catch (e) {
    problems.push(`${rel}: ${e.message ?? e}`);
  }
}

const refs = new Set(entities.map(({ entity }) => cm.stringifyEntityRef(entity)));
let relations = 0;
for (const { rel, entity } of entities) {
  const fields = relationFields[entity.kind.toLowerCase()] ?? {};
  for (const [field, defaultKind] of Object.entries(fields)) {
    const raw = field.split('.').reduce((o, k) => o?.[k], entity);
    if (raw === undefined) continue;
    for (const r of [raw].flat()) {
      try {
        const ref = cm.parseEntityRef(r, { defaultKind, defaultNamespace: entity.metadata.namespace });
        relations += 1;
        if (!refs.has(cm.stringifyEntityRef(ref))) problems.push(`${rel}: ${field} names ${cm.stringifyEntityRef(ref)}, which is not in the catalog`);
      } catch (e) {
        problems.push(`${rel}: ${field}: ${e.message}`);
      }
    }
  }
}

const locations = entities.filter(({ entity }) => entity.kind === 'Location');
const locationFile = path.join(dir, 'location.yaml');
const location = locations.find(({ file }) => file === locationFile);
if (!location) {
  problems.push('location.yaml: missing or not a Location');
} else {
  const targets = (location.entity.spec.targets ?? []).map((t) => path.resolve(dir, t)).sort();
  const others = entities.map(({ file }) => file).filter((f) => f !== locationFile).sort();
  for (const t of targets) if (!others.includes(t)) problems.push(`location.yaml: target ${path.relative(dir, t)} is not an entity file`);
  for (const f of others) if (!targets.includes(f)) problems.push(`location.yaml: ${path.relative(dir, f)} is not listed in targets`);
}
for (const f of all) {
  if (!entityFiles.includes(f) && !readFiles.has(f)) problems.push(`${path.relative(dir, f)}: not an entity and not read by any placeholder`);
}

for (const p of problems) console.error(`error: ${p}`);
const kinds = {};
for (const { entity } of entities) kinds[entity.kind] = (kinds[entity.kind] ?? 0) + 1;
const byKind = Object.entries(kinds).sort().map(([k, n]) => `${n} ${k}`).join(', ');
if (problems.length) {
  console.log(`backstage: ${problems.length} problem(s) in ${entityFiles.length} entity files (catalog-model ${require('@backstage/catalog-model/package.json').version})`);
  process.exit(1);
}
console.log(`backstage: ${entities.length} entities valid (${byKind}), ${relations} relations resolved, ${readFiles.size} definitions (catalog-model ${require('@backstage/catalog-model/package.json').version})`);
