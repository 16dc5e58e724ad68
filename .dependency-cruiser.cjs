// The layers of src/, declared once. Imports point downward only: a folder may import any folder of a lower
// layer, never one of a higher layer, and never a sibling in its own layer (two features that need the same
// thing move it down to a layer both stand on). The rules below are generated from this list, so the README's
// picture and CI cannot drift apart. `npm run lint` runs `depcruise src`.
//
// Lowest first. An entry is a folder under src/; `app` is the composition root: src/app/, src/main.ts, src/worker.ts.
const LAYERS = [
  ['core'], // config, clock, logger, errors, ids
  ['model'], // entities, enums, sequence-step types, tenant-scoped lookups
  ['db'], // ORM, SQL, prepared statements, migrations, pagination, pg listener, embedded PostgreSQL
  ['state'], // the email and enrollment state owner, realtime events, timeline, due signal
  ['auth', 'companies'],
  ['templates'],
  ['sequences'],
  ['enrollments'],
  ['leads', 'suppression'],
  ['tracking'],
  ['analytics'], // sequence analytics and the counting windows of the deliverability guard
  ['delivery'], // with delivery/ses-events/
  ['replies'], // SES inbound mail: matching, classification, forwarding to the company, auto-resume after an out-of-office
  ['graphql', 'http', 'jobs'],
  ['app'],
];

/** The path pattern of one folder of a layer; `app` also takes the two entry points beside it. */
const pathOf = (folder) => (folder === 'app' ? '^src/(app/|main\\.ts$|worker\\.ts$)' : `^src/${folder}/`);
const anyOf = (folders) => folders.map(pathOf).join('|');

const layerRules = LAYERS.flatMap((layer, index) => {
  const above = LAYERS.slice(index + 1).flat();
  return layer.flatMap((folder) => {
    const siblings = layer.filter((other) => other !== folder);
    return [
      above.length > 0 && {
        name: `no-upward-from-${folder}`,
        comment: `${folder} is below ${above.join(', ')}: it must not import them (move the shared code down instead).`,
        severity: 'error',
        from: { path: pathOf(folder) },
        to: { path: anyOf(above) },
      },
      siblings.length > 0 && {
        name: `no-sideways-from-${folder}`,
        comment: `${folder} shares a layer with ${siblings.join(', ')}: siblings never import each other.`,
        severity: 'error',
        from: { path: pathOf(folder) },
        to: { path: anyOf(siblings) },
      },
    ].filter(Boolean);
  });
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-unlayered-folder',
      comment: 'Every file of src/ belongs to a layer: add a new folder to LAYERS in .dependency-cruiser.cjs.',
      severity: 'error',
      from: { path: '^src/', pathNot: anyOf(LAYERS.flat()) },
      to: {},
    },
    {
      name: 'no-circular',
      comment: 'A cycle makes two modules one: break it by moving the shared part down a layer.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'Nothing imports this module: delete it, or import it where it is meant to be used.',
      severity: 'error',
      // Entry points are imported by nobody by design; migrations are listed by migrations/index.ts.
      from: { orphan: true, pathNot: ['\\.d\\.ts$', '^src/main\\.ts$', '^src/worker\\.ts$'] },
      to: {},
    },
    {
      name: 'no-unreachable',
      comment:
        'No entry point reaches this module (the server, the worker, the npm scripts, the render workers that render-pool.ts and the SES thread that ses-thread.ts start by file name): it is dead code, or only a test uses it.',
      severity: 'error',
      from: { path: '^src/main\\.ts$|^src/worker\\.ts$|^src/templates/render-worker\\.ts$|^src/delivery/ses-thread-worker\\.ts$|^scripts/' },
      to: {
        path: '^src/',
        pathNot: '\\.d\\.ts$|^src/main\\.ts$|^src/worker\\.ts$|^src/templates/render-worker\\.ts$|^src/delivery/ses-thread-worker\\.ts$',
        reachable: false,
      },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'This import resolves to no file: fix the path (ESM imports name the compiled .js file).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      comment: 'The package is not in package.json: add it to dependencies.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-dev-dep',
      comment: 'Production code runs without devDependencies (`npm ci --omit=dev`): move the package to dependencies.',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    // Type-only imports count as well: a type from a higher layer couples the code just the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    moduleSystems: ['es6'],
    // Resolve packages as Node does (their `exports` maps), so a subpath import such as graphql-ws/use/ws is found.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.d.ts', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
