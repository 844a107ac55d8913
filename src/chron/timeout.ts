// Bounded waits for shutdown paths: a hung Redis must never keep jobchron from exiting.

/** Resolves with the promise's value, or with undefined once `ms` have passed (the promise runs on). */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
