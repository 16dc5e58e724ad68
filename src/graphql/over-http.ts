import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyInstance } from 'fastify';
import { GraphQLError, OperationTypeNode } from 'graphql';
import { authenticate } from '../auth/authenticate.js';
import { formatGraphQLError } from './format-error.js';
import type { Context } from './context.js';
import { operationLimitsPlugin } from './limits/operation-limits.js';
import type { GraphqlTransportOptions } from './transport.js';

export interface GraphqlOverHttpOptions extends GraphqlTransportOptions {
  /** The app Apollo drains when it stops: in-flight requests finish, then the listener closes. */
  readonly http: FastifyInstance;
  /** Sandbox presets for development: the demo key's header. */
  readonly sandboxHeaders?: Record<string, string>;
}

export interface GraphqlOverHttp {
  /** Adds `/graphql` (GET, POST, OPTIONS) to a Fastify scope. */
  mount(scope: FastifyInstance): void;
  /** Stops Apollo, which drains and closes the HTTP app. */
  dispose(): Promise<void>;
}

const FIRST_QUERY = `# Your company, as seen by the API key in the Authorization header
query Viewer {
  viewer {
    id
    name
    fromAddress
    timezone
  }
}
`;

/** Apollo Server on Fastify: queries and mutations over HTTP, with Sandbox as the landing page when enabled. */
export async function startGraphqlOverHttp(options: GraphqlOverHttpOptions): Promise<GraphqlOverHttp> {
  const { schema, orm, config, clock, recorder, logger, guards } = options;
  const apollo = new ApolloServer<Context>({
    schema,
    validationRules: guards.validationRules,
    parseOptions: { maxTokens: config.maxQueryTokens },
    introspection: config.sandbox,
    includeStacktraceInErrorResponses: false,
    formatError: (formatted, error) =>
      formatGraphQLError(formatted, error, {
        exposeInternals: config.env === 'development',
        onInternalError: (err) => logger.error({ err }, 'internal error in GraphQL operation'),
      }),
    plugins: [fastifyApolloDrainPlugin(options.http), subscriptionsOverWebSocketOnly(), operationLimitsPlugin(guards.limits), landingPage(options)],
  });
  await apollo.start();

  const handler = fastifyApolloHandler(apollo, {
    context: async (request): Promise<Context> => {
      const em = orm.em.fork();
      const auth = await authenticate(request.headers.authorization, em, config.operatorToken);
      return { em, auth, requestId: request.id, log: request.log, clock, config, recorder };
    },
  });
  return {
    mount: (scope) => {
      scope.route({ url: '/graphql', method: ['GET', 'POST', 'OPTIONS'], handler });
    },
    dispose: () => apollo.stop(),
  };
}

/** Subscriptions are served by graphql-ws on the same path; over plain HTTP they would run without an event. */
function subscriptionsOverWebSocketOnly(): ApolloServerPlugin<Context> {
  return {
    // Apollo's hooks are typed to return promises; nothing here waits, so they return settled ones.
    requestDidStart() {
      return Promise.resolve({
        didResolveOperation({ operation }) {
          if (operation?.operation === OperationTypeNode.SUBSCRIPTION) {
            return Promise.reject(
              new GraphQLError('Subscriptions run over WebSocket (graphql-ws) at this same URL', {
                extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
              }),
            );
          }
          return Promise.resolve();
        },
      });
    },
  };
}

function landingPage({ config, sandboxHeaders }: GraphqlOverHttpOptions): ApolloServerPlugin<Context> {
  return config.sandbox
    ? ApolloServerPluginLandingPageLocalDefault({
        embed: true,
        includeCookies: false,
        document: FIRST_QUERY,
        ...(sandboxHeaders ? { headers: sandboxHeaders } : {}),
      })
    : ApolloServerPluginLandingPageDisabled();
}
