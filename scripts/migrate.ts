import { migrateDatabase, optionsFromEnv } from '@/db/client';
import { main } from './cli';

await main(async () => {
  await migrateDatabase(optionsFromEnv());
  console.log('Migrations applied.');
});
