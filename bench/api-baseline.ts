/**
 * The API bench's baseline: a bare Apollo Server 5 on Fastify 5 (through @as-integrations/fastify, as the product)
 * with one `hello` field, no logger, no plugins. What any request to the product costs beyond this is ours.
 */
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import Fastify from 'fastify';

export interface BaselineServer {
  /** http://127.0.0.1:<port>/graphql */
  readonly url: string;
  dispose(): Promise<void>;
}

export async function startBaseline(): Promise<BaselineServer> {
  const http = Fastify();
  const apollo = new ApolloServer({
    typeDefs: 'type Query { hello: String! }',
    resolvers: { Query: { hello: () => 'world' } },
    plugins: [fastifyApolloDrainPlugin(http)],
  });
  await apollo.start();
  await http.register(fastifyApollo(apollo));
  await http.listen({ host: '127.0.0.1', port: 0 });
  const { port } = http.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    dispose: async () => {
      await apollo.stop();
      await http.close();
    },
  };
}
