import { openDatabase, optionsFromEnv } from '@/db/client';
import { main } from './cli';
import { upgradeDatabase } from './upgrade-database';

await main(async () => {
  const handle = await openDatabase({ ...optionsFromEnv(), max: 1 });
  try {
    await upgradeDatabase(handle);
  } finally {
    await handle.close();
  }
  console.log('Migrations applied.');
});
