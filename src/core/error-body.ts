/**
 * GraphQL's error shape, `{ errors: [{ message, extensions: { code } }] }`, for requests refused before GraphQL
 * runs (malformed HTTP, a body too large, no such route, a webhook's refusals): clients handle one format.
 * Nothing but `message` and `code`: these refusals carry no reason, path or figures.
 */
export interface ErrorBody {
  readonly errors: readonly [{ readonly message: string; readonly extensions: { readonly code: string } }];
}

export function errorBody(message: string, code: string): ErrorBody {
  return { errors: [{ message, extensions: { code } }] };
}
