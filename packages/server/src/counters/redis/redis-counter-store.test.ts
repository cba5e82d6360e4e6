import { afterAll, beforeAll, describe } from "vitest";
import { type RedisProcess, REDIS_AVAILABLE, startRedis } from "../../../test/redis-server.js";
import { counterStoreContract } from "../../../test/counter-store-contract.js";
import { RedisCounterStore } from "./redis-counter-store.js";

describe.skipIf(!REDIS_AVAILABLE)("RedisCounterStore", () => {
  let redis: RedisProcess;
  let n = 0;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  // Each test gets its own key prefix: the same contract as the memory store, on one Redis.
  counterStoreContract((now) => RedisCounterStore.connect({ url: redis.url, keyPrefix: `t${++n}:`, now }, () => {}));
});
