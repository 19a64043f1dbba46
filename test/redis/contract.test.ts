/** The same Store contract suite, run for the memory store and the Redis store. */
import { MemoryStore } from '../../src/store/memory';
import { storeContract } from '../support/store-contract';
import { connectStore, rawClient } from './support';

storeContract('MemoryStore', async (settings) => new MemoryStore(settings));

storeContract('RedisStore', async (settings) => {
  const r = rawClient();
  await r.flushdb();
  r.disconnect();
  return connectStore(settings);
});
