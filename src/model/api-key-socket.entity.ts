import type { Ref } from '@mikro-orm/core';
import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { ApiProcess } from './api-process.entity.js';

/**
 * One WebSocket an API process admitted for an API key, so that MAX_SOCKETS_PER_KEY counts every process's sockets.
 * No foreign key to the API key: a revoked or deleted key's sockets are closed (and their rows removed) by each
 * process, and a row can only hold a place while its process is alive.
 */
@Entity({ tableName: 'api_key_socket' })
export class ApiKeySocket {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @ManyToOne(() => ApiProcess, { ref: true, deleteRule: 'cascade' })
  @Index()
  process!: Ref<ApiProcess>;

  @Property({ type: 'uuid' })
  @Index()
  apiKeyId!: string;
}
