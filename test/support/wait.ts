import type { Queued } from '../../src/protocol/event';
import type { Cancel, Store } from '../../src/store/store';

/** `Store.waitForEvents` as a promise: resolves to what `woken` was told, rejects with what `failed` was. */
export function waitFor(store: Store, id: string, ms: number, cancel?: Cancel): Promise<Queued[] | undefined> {
  return new Promise((resolve, reject) => {
    store.waitForEvents(id, ms, {
      get cancelled() {
        return cancel?.cancelled ?? false;
      },
      onCancel: (l) => cancel?.onCancel(l),
      woken: resolve,
      failed: reject,
    });
  });
}
