/**
 * Import rules of the source (`npm run lint` checks them with dependency-cruiser): no cycles,
 * packages depend downwards only (wire <- client, node <- cli), and inside the relay each room
 * imports only rooms below it (clients -> routing -> directory -> peers -> overlay).
 * Type-only imports count: a layer must not even name the types of one above it.
 */
const room = (name) => `^packages/node/src/${name}/`
const rooms = ['clients', 'routing', 'directory', 'peers', 'overlay']

/** Each room may not import the rooms above it, nor the composition root. */
const layerRules = rooms.map((r, i) => ({
  name: `${r}-imports-only-below`,
  comment: `packages/node/src/${r}/ may import only the rooms below it (${rooms.slice(i + 1).join(', ') || 'none'})`,
  severity: 'error',
  from: { path: room(r) },
  to: { path: [...rooms.slice(0, i).map(room), '^packages/node/src/(relay|status|index)\\.ts$'] },
}))

export default {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: { path: '^packages/[^/]+/src/' }, to: { circular: true } },
    { name: 'wire-stands-alone', severity: 'error', from: { path: '^packages/wire/src/' }, to: { path: '^packages/(client|node|cli)/|^node_modules/' } },
    { name: 'sdk-needs-only-wire', severity: 'error', from: { path: '^packages/client/src/' }, to: { path: '^packages/(node|cli)/' } },
    { name: 'no-package-needs-the-testkit', comment: 'the testkit is for tests: it sits above every package', severity: 'error', from: { path: '^packages/(wire|client|node|cli|pressure)/src/' }, to: { path: '^packages/testkit/' } },
    { name: 'relay-needs-no-sdk', severity: 'error', from: { path: '^packages/node/src/' }, to: { path: '^packages/(client|cli)/' } },
    {
      name: 'clients-speak-to-routing-only',
      comment: 'the client layer reaches the rest of the relay through the router',
      severity: 'error',
      from: { path: room('clients') },
      to: { path: [room('directory'), room('peers'), room('overlay')] },
    },
    ...layerRules,
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.tests.json' },
    combinedDependencies: true,
    exclude: { path: '(^|/)(dist|node_modules)/' },
    doNotFollow: { path: 'node_modules' },
  },
}
