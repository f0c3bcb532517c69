import { after, before, describe } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createTestDatabase, postgresGate, type TestDatabase } from '../helpers/postgres.js';
import { storeContract } from './contract.js';

const gate = await postgresGate();
let db: TestDatabase;

describe('PostgreSQL store', { skip: gate.skip }, () => {
  before(async () => {
    gate.assertPresent();
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  storeContract('postgres', async () => {
    const schema = db.schema();
    const open = () => new PostgresStore({ connection: db.connection(), schema });
    return { store: open(), reopen: async () => open() };
  });
});
