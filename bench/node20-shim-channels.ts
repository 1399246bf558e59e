// `multithreading` (0.3.52) calls Promise.withResolvers, which Node added in v22.
// Give Node 20 the standard one (import before 'multithreading').
const P = Promise as unknown as { withResolvers?: unknown };
P.withResolvers ??= function withResolvers<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
};
