// Typed operations for the dashboard, generated from the committed schema.graphql (GraphQL Code Generator's client
// preset). `npm run codegen` writes dashboard/src/gql/; `npm run codegen:check` (CI) fails when it is stale.
// Documents are plain strings (documentMode: 'string'): the page sends them with fetch and graphql-ws, so it ships
// no GraphQL parser.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['dashboard/src/**/*.{ts,tsx}', '!dashboard/src/gql/**'],
  ignoreNoDocuments: false,
  generates: {
    'dashboard/src/gql/': {
      preset: 'client',
      config: {
        documentMode: 'string',
        // Only the types the operations use: a change elsewhere in the schema leaves the generated files as they are.
        onlyOperationTypes: true,
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { DateTime: 'string', JSONObject: 'Record<string, unknown>', EmailAddress: 'string', URL: 'string', TimeZone: 'string' },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
