import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * A running API process, as far as the database knows: its WebSockets (ApiKeySocket) count towards their keys'
 * limit only while its heartbeat is fresh (src/graphql/socket-slots.ts).
 */
@Entity({ tableName: 'api_process' })
export class ApiProcess {
  /** A new id each start: a restarted process never inherits what its previous run left. */
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  heartbeatAt!: Date;
}
