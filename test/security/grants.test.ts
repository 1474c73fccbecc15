/**
 * Grants (docs/spec/security.md, "Grants"): issuing, chains, and every reason a chain
 * is refused: forged, altered, not rooted at an owner, a broken link, a delegation
 * that widens (capabilities, devices, time), too long, expired.
 */
import { describe, expect, it } from 'vitest';
import { fromBase64url } from '../../gateway/security/bytes.js';
import { decodeItem, Tagged } from '../../gateway/security/cbor-item.js';
import { capability, CapabilitySet, presetCapabilities } from '../../gateway/security/capabilities.js';
import { checkValidity, decodeChain, encodeChain, GrantError, issueGrant, verifyChain, type Grant } from '../../gateway/security/grant.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { alice, bob, chainText, grantTo, mallory, owner } from './helpers.js';

const owners = new Set([owner.id]);
const now = Math.floor(Date.now() / 1000);

function verify(...grants: Grant[]) {
  return verifyChain(nodeSuite, decodeChain(encodeChain(grants)).grants, owners);
}

function refusal(...grants: Grant[]): string {
  try {
    verify(...grants);
  } catch (error) {
    expect(error).toBeInstanceOf(GrantError);
    return (error as Error).message;
  }
  throw new Error('the chain was accepted');
}

describe('a grant', () => {
  it('is a tagged COSE_Sign1 whose payload is a CWT claims set with att and prf', () => {
    const grant = grantTo(alice, presetCapabilities('read', ['coffee']), { expires: now + 3600 });
    const item = decodeItem(grant.bytes) as Tagged;
    expect(item).toBeInstanceOf(Tagged);
    expect(item.tag).toBe(18);
    const [protectedBytes, unprotected, payload] = item.value as [Uint8Array, Map<number, unknown>, Uint8Array];
    expect(decodeItem(protectedBytes)).toEqual(new Map<number, unknown>([[1, -8], [3, 61], [4, owner.kid]]));
    expect(unprotected.size).toBe(0);
    const claims = decodeItem(payload) as Map<number | string, unknown>;
    expect(claims.get(1)).toBe(owner.id);
    expect(claims.get(3)).toBe(alice.id);
    expect(claims.get(4)).toBe(now + 3600);
    expect((claims.get(7) as Uint8Array).length).toBe(16);
    expect(claims.get('att')).toEqual([[1, 'GET', ['devices']], [1, 'GET', ['devices', 'coffee', '...']], [2, 'PATCH', ['devices', 'coffee', '...']], [2, 'POST', ['devices', 'coffee', 'events', '...']]]);
    expect(claims.get('prf')).toEqual([]);
  });

  it('verifies when an owner issued it, and gives its holder the capabilities', () => {
    const verified = verify(grantTo(alice, presetCapabilities('operate')));
    expect(verified.holder.id).toBe(alice.id);
    expect(verified.root).toBe(owner.id);
    expect(verified.capabilities.allowsSend('POST', ['devices', 'coffee', 'actions', 'brew'])).toBe(true);
    expect(verified.capabilities.allowsSend('DELETE', ['devices', 'coffee'])).toBe(false);
  });

  it('a delegation chain that narrows verifies, and the holder is the last audience', () => {
    const root = grantTo(alice, presetCapabilities('operate'), { expires: now + 7200 });
    const narrower = grantTo(bob, presetCapabilities('read', ['coffee']), { issuer: alice, parent: root, expires: now + 3600 });
    const verified = verify(root, narrower);
    expect(verified.holder.id).toBe(bob.id);
    expect(verified.expires).toBe(now + 3600);
    expect(verified.capabilities.allowsSend('GET', ['devices', 'coffee', 'properties', 'water'])).toBe(true);
    expect(verified.capabilities.allowsSend('GET', ['devices', 'rover'])).toBe(false);
  });
});

describe('a chain is refused when', () => {
  const root = grantTo(alice, presetCapabilities('read', ['coffee']), { expires: now + 3600 });

  it('its root was not issued by an owner', () => {
    expect(refusal(grantTo(alice, presetCapabilities('admin'), { issuer: mallory }))).toMatch(/not an owner/);
  });

  it('a grant is forged: signed by another key than its issuer names', () => {
    // Claims and kid say the owner issued it; the signature is mallory's.
    const forged = issueGrant(nodeSuite, { ...owner, sign: mallory.sign }, { audience: alice.id, capabilities: presetCapabilities('admin') });
    expect(refusal(forged)).toMatch(/signature is not the issuer's/);
    // Mallory's own key, claiming to be the owner.
    const impostor = issueGrant(nodeSuite, { ...mallory, id: owner.id }, { audience: alice.id, capabilities: presetCapabilities('admin') });
    expect(refusal(impostor)).toMatch(/kid is not the issuer's/);
  });

  it('any byte of a grant is altered', () => {
    const bytes = fromBase64url(encodeChain([root]))!;
    let refused = 0;
    for (let i = 1; i < bytes.length; i++) {
      const altered = bytes.slice();
      altered[i]! ^= 0x01;
      try {
        verifyChain(nodeSuite, decodeChain(Buffer.from(altered).toString('base64url')).grants, owners);
      } catch (error) {
        expect(error).toBeInstanceOf(GrantError);
        refused++;
      }
    }
    expect(refused).toBe(bytes.length - 1);
  });

  it('a delegation adds a capability, a device or a method', () => {
    expect(refusal(root, grantTo(bob, presetCapabilities('operate', ['coffee']), { issuer: alice, parent: root, expires: now + 60 }))).toMatch(/only narrow/);
    expect(refusal(root, grantTo(bob, presetCapabilities('read', ['coffee', 'rover']), { issuer: alice, parent: root, expires: now + 60 }))).toMatch(/devices\/rover/);
    expect(refusal(root, grantTo(bob, [capability('send', '*', ['devices', 'coffee', '...'])], { issuer: alice, parent: root, expires: now + 60 }))).toMatch(/only narrow/);
    // serve is its own right: observe does not give it.
    expect(refusal(root, grantTo(bob, [capability('serve', 'PATCH', ['devices', 'coffee', '...'])], { issuer: alice, parent: root, expires: now + 60 }))).toMatch(/only narrow/);
  });

  it('a delegation outlives its parent, or has no expiry when its parent has one, or starts earlier', () => {
    expect(refusal(root, grantTo(bob, presetCapabilities('read', ['coffee']), { issuer: alice, parent: root, expires: now + 7200 }))).toMatch(/outlives/);
    expect(refusal(root, grantTo(bob, presetCapabilities('read', ['coffee']), { issuer: alice, parent: root }))).toMatch(/outlives/);
    expect(refusal(root, grantTo(bob, presetCapabilities('read', ['coffee']), { issuer: alice, parent: root, expires: now + 60, notBefore: root.claims.notBefore - 10 }))).toMatch(/starts before/);
  });

  it('a link was not issued by the previous audience, or names another parent', () => {
    expect(refusal(root, grantTo(bob, presetCapabilities('read', ['coffee']), { issuer: bob, parent: root, expires: now + 60 }))).toMatch(/was given to/);
    const other = grantTo(alice, presetCapabilities('read', ['coffee']), { expires: now + 3600 });
    expect(refusal(root, grantTo(bob, presetCapabilities('read', ['coffee']), { issuer: alice, parent: other, expires: now + 60 }))).toMatch(/prf is not the hash/);
  });

  it('it is longer than 8 grants, empty, or not a chain at all', () => {
    const links: Grant[] = [grantTo(alice, presetCapabilities('read'))];
    let holder = alice;
    for (let i = 0; i < 8; i++) {
      const next = [bob, alice][i % 2]!;
      links.push(grantTo(next, presetCapabilities('read'), { issuer: holder, parent: links[links.length - 1]! }));
      holder = next;
    }
    expect(() => encodeChain(links)).toThrow(RangeError);
    expect(() => decodeChain(Buffer.from([0x89, ...links.flatMap((g) => [...g.bytes])]).toString('base64url'))).toThrow(/1 to 8/);
    expect(() => decodeChain('gA')).toThrow(/1 to 8/);
    expect(() => decodeChain('not base64url!')).toThrow(GrantError);
    expect(() => decodeChain('oA')).toThrow(/array/);
    expect(verify(...links.slice(0, 8)).holder.id).toBe(bob.id);
  });

  it('it expired, or is not valid yet (checked on every use)', () => {
    const expired = verify(grantTo(alice, presetCapabilities('read'), { notBefore: now - 7200, expires: now - 3600 }));
    expect(() => checkValidity(expired, Date.now())).toThrow(/expired/);
    const later = verify(grantTo(alice, presetCapabilities('read'), { notBefore: now + 3600 }));
    expect(() => checkValidity(later, Date.now())).toThrow(/not valid before/);
    const current = verify(grantTo(alice, presetCapabilities('read'), { expires: now + 60 }));
    expect(() => checkValidity(current, Date.now())).not.toThrow();
    expect(() => checkValidity(current, (now + 61) * 1000)).toThrow(/expired/);
  });
});

describe('capabilities', () => {
  it('delegation can never widen: every preset below a parent is covered exactly when its capabilities are', () => {
    const presets = [
      ['admin', []],
      ['operate', []],
      ['operate', ['coffee']],
      ['read', []],
      ['read', ['coffee']],
      ['read', ['coffee', 'rover']],
      ['serve', ['lamp']],
    ] as const;
    const table: string[] = [];
    for (const [parentPreset, parentDevices] of presets) {
      for (const [childPreset, childDevices] of presets) {
        const parent = new CapabilitySet(presetCapabilities(parentPreset, parentDevices));
        const child = new CapabilitySet(presetCapabilities(childPreset, childDevices));
        if (parent.covers(child)) table.push(`${parentPreset}[${parentDevices.join(',')}] > ${childPreset}[${childDevices.join(',')}]`);
        // Whatever is covered really is: nothing the child allows is refused to the parent.
        if (parent.covers(child)) {
          for (const resource of [['devices'], ['devices', 'coffee', 'properties', 'x'], ['devices', 'rover'], ['devices', 'lamp', 'events', 'on']]) {
            for (const method of ['GET', 'PUT', 'POST', 'PATCH', 'DELETE']) {
              if (child.allowsSend(method, resource)) expect(parent.allowsSend(method, resource)).toBe(true);
              for (const serving of [false, true]) if (child.allowsDelivery(method, resource, serving, false)) expect(parent.allowsDelivery(method, resource, serving, false)).toBe(true);
            }
          }
        }
      }
    }
    expect(table).toEqual([
      'admin[] > admin[]',
      'admin[] > operate[]',
      'admin[] > operate[coffee]',
      'admin[] > read[]',
      'admin[] > read[coffee]',
      'admin[] > read[coffee,rover]',
      'admin[] > serve[lamp]',
      'operate[] > operate[]',
      'operate[] > operate[coffee]',
      'operate[] > read[]',
      'operate[] > read[coffee]',
      'operate[] > read[coffee,rover]',
      'operate[coffee] > operate[coffee]',
      'operate[coffee] > read[coffee]',
      'read[] > read[]',
      'read[] > read[coffee]',
      'read[] > read[coffee,rover]',
      'read[coffee] > read[coffee]',
      'read[coffee,rover] > read[coffee]',
      'read[coffee,rover] > read[coffee,rover]',
      'serve[lamp] > serve[lamp]',
    ]);
  });

  it('serving is a right of its own: only admin and serve may answer requests for a device', () => {
    const request = ['devices', 'coffee', 'actions', 'brew'];
    const serving = (preset: 'admin' | 'operate' | 'read' | 'serve', devices?: string[]) => new CapabilitySet(presetCapabilities(preset, devices)).allowsDelivery('POST', request, true, false);
    expect(serving('admin')).toBe(true);
    expect(serving('serve', ['coffee'])).toBe(true);
    expect(serving('operate')).toBe(false);
    expect(serving('read')).toBe(false);
    // operate observes POSTs without a transaction (events), not requests.
    expect(new CapabilitySet(presetCapabilities('operate')).allowsDelivery('POST', ['devices', 'coffee', 'events', 'ready'], false, false)).toBe(true);
  });

  it('refuses malformed capabilities', () => {
    expect(() => capability('fly', 'GET', ['x'])).toThrow(/ability/);
    expect(() => capability('send', 'BIND', ['x'])).toThrow(/method/);
    expect(() => capability('send', 'GET', [])).toThrow(/pattern/);
    expect(() => capability('send', 'GET', Array.from({ length: 30 }, () => 'a'))).toThrow(/at most/);
    expect(() => presetCapabilities('serve')).toThrow(/devices/);
    expect(() => presetCapabilities('admin', ['x'])).toThrow(/cannot be limited/);
  });

  it('a chain text is the same in a file and in a header', () => {
    const grant = grantTo(alice, presetCapabilities('read'));
    expect(chainText(grant)).toBe(encodeChain([grant]));
  });
});
