import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyInstance } from 'fastify';
import { GraphQLError, OperationTypeNode } from 'graphql';
import { authenticateRequest } from '../auth/authenticate.js';
import { ApiKeyCache } from '../auth/key-cache.js';
import { formatGraphQLError } from './format-error.js';
import type { Context } from './context.js';
import { operationLimitsPlugin } from './limits/operation-limits.js';
import type { AccessNotices } from './realtime/pubsub.js';
import type { GraphqlTransportOptions } from './transport.js';

export interface GraphqlOverHttpOptions extends GraphqlTransportOptions {
  /** The app Apollo drains when it stops: in-flight requests finish, then the listener closes. */
  readonly http: FastifyInstance;
  /** Sandbox presets for development: the demo key's header. */
  readonly sandboxHeaders?: Record<string, string>;
  /** Revocations and company changes from every process: what the key cache forgets. */
  readonly notices: AccessNotices;
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
    plugins: [
      fastifyApolloDrainPlugin(options.http),
      subscriptionsOverWebSocketOnly(),
      operationLimitsPlugin(guards.limits),
      landingPage(options),
      // No cache hints are set or read here; Apollo's default cache-control plugin would wrap every field's resolver.
      ApolloServerPluginCacheControlDisabled(),
    ],
  });
  await apollo.start();

  const keys = keyCache(options);
  const handler = fastifyApolloHandler(apollo, {
    context: async (request): Promise<Context> => {
      let em: Context['em'] | undefined;
      const fork = () => (em ??= orm.em.fork());
      const { auth, company } = await authenticateRequest(request.headers.authorization, fork, config.operatorToken, keys.cache);
      return new HttpContext(fork, auth, company, request.id, request.log, clock, config, recorder);
    },
  });
  return {
    mount: (scope) => {
      scope.route({ url: '/graphql', method: ['GET', 'POST', 'OPTIONS'], handler });
    },
    dispose: async () => {
      await apollo.stop();
      keys.dispose();
    },
  };
}

/**
 * A request's context whose EntityManager is forked on first use: a request answered from the key cache that touches
 * no entity (`__typename`) never forks one. The getter is on the prototype because Apollo copies the context's own
 * properties into a new object (`Object.assign`), which would call an own getter, and fork, for every request.
 */
class HttpContext implements Context {
  constructor(
    private readonly fork: () => Context['em'],
    readonly auth: Context['auth'],
    readonly company: Context['company'],
    readonly requestId: string,
    readonly log: Context['log'],
    readonly clock: Context['clock'],
    readonly config: Context['config'],
    readonly recorder: Context['recorder'],
  ) {}

  get em(): Context['em'] {
    return this.fork();
  }
}

/** The API key cache (src/auth/key-cache.ts), told of revocations, company changes and missed notices from every process. */
function keyCache({ config, notices }: GraphqlOverHttpOptions): { cache: ApiKeyCache; dispose(): void } {
  const cache = new ApiKeyCache({ ...config.authCache, ttlMs: config.authCache.ttlSeconds * 1000, trusted: () => notices.listening });
  const stops = [
    notices.onApiKeyRevoked((event) => cache.forgetKey(event.apiKeyId)),
    notices.onCompanyChanged((event) => cache.forgetCompany(event.companyId)),
    notices.onNoticesMissed(() => cache.clear()),
  ];
  return {
    cache,
    dispose: () => {
      for (const stop of stops) stop();
      cache.dispose();
    },
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
