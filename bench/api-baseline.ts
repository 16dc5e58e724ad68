/**
 * The API bench's baselines, bare Apollo Server 5 on Fastify 5 (through @as-integrations/fastify, as the product),
 * no logger, no plugins:
 * - `hello`: one field; what any request to the product costs beyond it is ours;
 * - `leads`: the product's lead page as plain `pg` would read it (the same prepared statement, the page and its count
 *   in one round trip, on a pool of the app's size) with no authentication, checks or log: the floor of what that page
 *   can cost on this machine, whatever the framework above the database.
 */
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import Fastify from 'fastify';
import pg from 'pg';

export interface BaselineServer {
  /** http://127.0.0.1:<port>/graphql */
  readonly url: string;
  dispose(): Promise<void>;
}

const typeDefs = `
  type Query { hello: String! leads(companyId: ID!, first: Int!): LeadPage! }
  type LeadPage { totalCount: Int! edges: [LeadEdge!]! }
  type LeadEdge { node: Lead! }
  type Lead { id: ID! email: String score: Int! }
`;

const LEADS = `select lead.*, (select count(*)::int from lead where company_id = $1 and deleted_at is null) as total_count
               from lead where company_id = $1 and deleted_at is null order by created_at desc, id desc limit $2`;

export async function startBaseline(databaseUrl: string): Promise<BaselineServer> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 20 });
  const http = Fastify();
  const apollo = new ApolloServer({
    typeDefs,
    resolvers: {
      Query: {
        hello: () => 'world',
        leads: async (_: unknown, { companyId, first }: { companyId: string; first: number }) => {
          const { rows } = await pool.query<{ total_count: number }>({ name: 'baseline_leads', text: LEADS, values: [companyId, first + 1] });
          return { totalCount: rows[0]?.total_count ?? 0, edges: rows.slice(0, first).map((node) => ({ node })) };
        },
      },
    },
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
      await pool.end();
    },
  };
}
