import { afterEach } from 'vitest';

/**
 * A list a test file pushes cleanups to (close a server, stop a client); after each
 * test they run last first, each awaited, and the list is emptied.
 */
export function cleanupsAfterEach(): (() => unknown)[] {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}
