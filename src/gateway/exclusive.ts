/**
 * Runs async tasks one at a time, in the order they were given. The inbox processor and
 * the unmute scheduler both read an alarm, await parsing, routing and rendering, and then
 * write the alarm back: run through one Exclusive, neither can write over what the other
 * wrote in between.
 */
export class Exclusive {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    // A failed task must not stop the ones after it; its caller sees the failure.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
