/** A minimal typed event emitter. Listeners run synchronously in registration order. */
export class Emitter<Events extends Record<string, unknown[]>> {
  private listeners: { [K in keyof Events]?: Array<(...args: Events[K]) => void> } = {};

  /** on adds a listener and returns a function that removes it. */
  on<K extends keyof Events>(event: K, fn: (...args: Events[K]) => void): () => void {
    (this.listeners[event] ??= []).push(fn);
    return () => this.off(event, fn);
  }

  /** once adds a listener that runs at most once. */
  once<K extends keyof Events>(event: K, fn: (...args: Events[K]) => void): () => void {
    const off = this.on(event, (...args: Events[K]) => {
      off();
      fn(...args);
    });
    return off;
  }

  /** off removes a listener. */
  off<K extends keyof Events>(event: K, fn: (...args: Events[K]) => void): void {
    const list = this.listeners[event];
    if (list) this.listeners[event] = list.filter((l) => l !== fn);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const fn of this.listeners[event] ?? []) {
      try {
        fn(...args);
      } catch (err) {
        // A failing listener must not break the protocol state machine.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}
