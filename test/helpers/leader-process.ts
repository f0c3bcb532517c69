/**
 * A gateway's leader election alone, in a process of its own that a test can SIGKILL:
 * `node --import tsx test/helpers/leader-process.ts <database url> <schema> <name>` beats
 * every 200 ms and prints `leading` once it holds the lead.
 */
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';

const [url, schema, gateway] = process.argv.slice(2) as [string, string, string];
const parsed = new URL(url);
const store = new PostgresStore({
  connection: { host: parsed.hostname, port: Number(parsed.port || 5432), database: parsed.pathname.slice(1), user: decodeURIComponent(parsed.username), url },
  schema,
  gateway,
});
let said = false;
const beat = async (): Promise<void> => {
  const leads = await store.peers.beat().catch(() => false);
  if (leads && !said) {
    said = true;
    process.stdout.write('leading\n');
  }
};
setInterval(() => void beat(), 200);
void beat();
