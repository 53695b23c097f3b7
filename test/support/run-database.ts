/** Reading what a run's database holds beyond the `CloudBoot` API, through a handle of its own. */
import { RunStore } from '@cloudboot/core';

/** Runs `read` on a fresh handle of the run's database, then closes it. */
export function readRunDatabase<T>(dbDir: string, run: string, read: (store: RunStore) => T): T {
  const store = RunStore.open(dbDir, run);
  try {
    return read(store);
  } finally {
    store.close();
  }
}
