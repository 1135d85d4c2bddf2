// The dependency rules `npm run deps` (and test/unit/architecture/dependencies.test.ts) enforce: the
// collector and the indexer ship as separate images and share code only through contract/.
'use strict';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'collector-not-to-indexer',
      comment: "The collector must run without the indexer's code (and its Elasticsearch client); what both need belongs in contract/.",
      severity: 'error',
      from: { path: '^collector/' },
      to: { path: '^indexer/' },
    },
    {
      name: 'indexer-not-to-collector',
      comment: 'The indexer image has no collector/ and no native addon (docker/Dockerfile); what both need belongs in contract/.',
      severity: 'error',
      from: { path: '^indexer/' },
      to: { path: '^collector/' },
    },
    {
      name: 'contract-is-the-bottom-layer',
      comment:
        'Both services load contract/, so it uses node builtins and npm packages only: importing a service (collector, indexer), ' +
        'the CLI, stack/, kibana/ or test code would drag that into the other side and make it impure.',
      severity: 'error',
      from: { path: '^contract/' },
      to: { pathNot: ['^contract/', '^node_modules/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'stack-below-the-services',
      comment: "Both images load stack/'s runtime helpers: importing a service, the CLI or kibana/ from there would pull it into the other image.",
      severity: 'error',
      from: { path: '^stack/' },
      to: { path: '^(collector|indexer|cli|kibana)/' },
    },
    {
      name: 'kibana-not-to-collector',
      comment: 'The indexer image ships kibana/ (filewarden kibana import) but no collector/.',
      severity: 'error',
      from: { path: '^kibana/' },
      to: { path: '^collector/' },
    },
    {
      name: 'no-circular',
      comment:
        'In a cycle, load order decides which module sees the other half-initialised, and the files can no longer be read, ' +
        'tested or shipped apart. Type-only imports count too (tsPreCompilationDeps): they couple the files as much. ' +
        'test/ and bench/ are held to it as well: they have no cycle today.',
      severity: 'error',
      from: { path: '^(collector|indexer|contract|stack|cli|kibana|test|bench)/' },
      to: { circular: true },
    },
  ],
  options: {
    // Type-only imports are dependencies too: an `import type` from collector/ in indexer/ still ties the two together.
    tsPreCompilationDeps: true,
    // npm packages are seen (the contract rule tells them apart) but not read.
    doNotFollow: { path: '^node_modules/' },
    // Build output: not sources. (The imports are plain relative paths, so no tsconfig is needed to resolve them.)
    exclude: { path: '^(dist|build)/' },
    moduleSystems: ['cjs', 'es6'],
  },
};
