import { describe } from "vitest";
import { counterStoreContract } from "../../../test/counter-store-contract.js";
import { MemoryCounterStore } from "./memory-counter-store.js";

describe("MemoryCounterStore", () => {
  counterStoreContract(async (now) => new MemoryCounterStore(now));
});
