// The committed migrations, oldest first. `npm run migration:create` appends to this list.
import { Migration20261124031012 } from './Migration20261124031012.js';

export const migrations = [
  { name: 'Migration20261124031012', class: Migration20261124031012 },
];
