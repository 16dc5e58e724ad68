// Configuration for the MikroORM CLI (`npx mikro-orm …`); the app builds the same options in src/db/orm.ts.
import { ormOptions } from './src/db/orm.js';

export default ormOptions(process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:54329/lead_nurture');
