export interface GraphQLErrorBody {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; reason?: string; fields?: { field: string; message: string }[] };
}

/**
 * A value decoded at run time: a JSON answer of the API, a raw SQL row. Black-box tests assert on its shape as it
 * arrives, rather than on a compile-time copy of the schema, so it is deliberately untyped.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above: the one place tests opt out of types
export type Untyped = any;

export interface GraphQLResponse<T = Record<string, Untyped>> {
  status: number;
  data: T | null | undefined;
  errors: GraphQLErrorBody[] | undefined;
}

export type GraphQLClient = <T = Record<string, Untyped>>(query: string, variables?: Record<string, unknown>) => Promise<GraphQLResponse<T>>;

/** A plain `fetch` GraphQL client, as a frontend would send. */
export function graphqlClient(url: string, authorization?: string): GraphQLClient {
  return async (query, variables) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: Untyped; errors?: GraphQLErrorBody[] };
    return { status: response.status, data: body.data, errors: body.errors };
  };
}

/** The data of a response that must have succeeded; fails the test with the errors otherwise. */
export function ok<T>(response: GraphQLResponse<T>): T {
  if (response.errors?.length || !response.data) {
    throw new Error(`GraphQL request failed (${response.status}): ${JSON.stringify(response.errors)}`);
  }
  return response.data;
}

/** The single error of a failed response. */
export function errorOf(response: GraphQLResponse): GraphQLErrorBody {
  if (!response.errors?.length) throw new Error(`expected an error, got ${JSON.stringify(response.data)}`);
  return response.errors[0]!;
}
