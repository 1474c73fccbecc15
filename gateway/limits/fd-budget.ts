/**
 * File descriptors, where the system tells (Linux's /proc): how many this process may
 * open and how many it has open. Past the limit, the kernel makes new connections
 * fail in a way node:net does not report (libuv accepts and closes them quietly), so
 * the gateway keeps its connection limit below it and says so when it refuses.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface FileDescriptors {
  /** The soft limit (Node raises it to the hard limit at start). */
  readonly limit: number;
  /** Open now. */
  readonly open: number;
}

export function fileDescriptors(): FileDescriptors | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!line || line[1] === 'unlimited') return undefined;
    return { limit: Number(line[1]), open: readdirSync('/proc/self/fd').length };
  } catch {
    return undefined;
  }
}

/** Descriptors kept free for what is not a peer connection (files, drivers, outbound links, the HTTP dashboard). */
export const RESERVED_DESCRIPTORS = 64;

/** The connection limit that fits: the configured one, or fewer when the descriptors left are fewer. */
export function connectionsThatFit(configured: number, descriptors: FileDescriptors | undefined): number {
  if (!descriptors) return configured;
  return Math.max(1, Math.min(configured, descriptors.limit - descriptors.open - RESERVED_DESCRIPTORS));
}
