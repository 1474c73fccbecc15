/**
 * The stage contract (test/support/stage-contract.ts) against one stage of each kind:
 * pass-through, mutating, async, dropping, answering, and two that fail (a throw, a
 * rejected promise).
 */
import { expect } from 'vitest';
import type { Dispatch } from '../../gateway/jstp/dispatch.js';
import { stageContract } from '../support/stage-contract.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

stageContract('pass-through', {
  make: () => ({ name: 'pass-through', inbound: (d) => d, outbound: (d) => d }),
  outcome: { kind: 'pass' },
});

stageContract('mutating', {
  make: () => {
    const tag = (d: Dispatch): Dispatch => (d.method === 'PATCH' ? { ...d, 'x-tag': 'seen' } : d);
    return { name: 'mutating', inbound: tag, outbound: tag };
  },
  outcome: { kind: 'change', check: (d) => expect(d['x-tag']).toBe('seen') },
});

stageContract('async (random delays)', {
  make: () => {
    const later = async (d: Dispatch): Promise<Dispatch> => {
      await delay(Math.random() < 0.5 ? 0 : Math.floor(Math.random() * 3));
      return d;
    };
    return { name: 'async', inbound: later, outbound: later };
  },
  outcome: { kind: 'pass' },
});

stageContract('dropping', {
  make: () => {
    const drop = (d: Dispatch) => (d.method === 'BIND' || d.method === 'ANSWER' ? d : { drop: 'not today' });
    return { name: 'dropping', inbound: drop, outbound: drop };
  },
  outcome: { kind: 'drop' },
});

stageContract('answering', {
  make: () => {
    const refuse = (d: Dispatch) => (d.method === 'BIND' || d.method === 'ANSWER' ? d : { answer: 403, reason: 'not granted' });
    return { name: 'answering', inbound: refuse, outbound: refuse };
  },
  outcome: { kind: 'answer', status: 403 },
});

stageContract('throwing', {
  make: () => {
    const boom = (d: Dispatch): Dispatch => {
      if (d.method === 'BIND' || d.method === 'ANSWER') return d;
      throw new Error('boom');
    };
    return { name: 'throwing', inbound: boom, outbound: boom };
  },
  outcome: { kind: 'fail' },
});

stageContract('rejecting', {
  make: () => {
    const boom = async (d: Dispatch): Promise<Dispatch> => {
      if (d.method === 'BIND' || d.method === 'ANSWER') return d;
      throw new Error('async boom');
    };
    return { name: 'rejecting', inbound: boom, outbound: boom };
  },
  outcome: { kind: 'fail' },
});

stageContract('changing in place (caught by the frozen input)', {
  make: () => {
    const tagInPlace = (d: Dispatch): Dispatch => {
      if (d.method === 'PATCH' || d.method === 'GET') (d as Record<string, unknown>)['x-tag'] = 'oops';
      return d;
    };
    return { name: 'in-place', inbound: tagInPlace, outbound: tagInPlace };
  },
  outcome: { kind: 'fail' },
});
