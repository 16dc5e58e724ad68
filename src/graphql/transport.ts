import type { MikroORM } from '@mikro-orm/postgresql';
import type { GraphQLSchema, ValidationRule } from 'graphql';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import type { EngagementRecorder } from '../tracking/tracking.service.js';
import { depthLimit } from './limits/depth-limit.js';
import { OperationLimits } from './limits/operation-limits.js';

/** What an operation meets before any resolver runs, beyond graphql-js's own validation. */
export interface OperationGuards {
  /** Validation rules added to graphql-js's (the depth limit). */
  readonly validationRules: ValidationRule[];
  /** Cost and mutation rate, checked after validation. */
  readonly limits: OperationLimits;
  dispose(): void;
}

/** One set for both transports: a key's mutations count against one rate whether they come over HTTP or WebSocket. */
export function operationGuards(schema: GraphQLSchema, config: Config, shared: { orm: MikroORM; clock: Clock; logger: Logger }): OperationGuards {
  const limits = new OperationLimits(schema, config, shared);
  return { validationRules: [depthLimit(config.maxQueryDepth)], limits, dispose: () => limits.dispose() };
}

/** What GraphQL over HTTP and over WebSocket both need: the schema, what a context is built from, the guards. */
export interface GraphqlTransportOptions {
  readonly schema: GraphQLSchema;
  readonly orm: MikroORM;
  readonly config: Config;
  readonly clock: Clock;
  readonly recorder: EngagementRecorder;
  readonly logger: Logger;
  readonly guards: OperationGuards;
}
