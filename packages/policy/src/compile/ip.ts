/**
 * IP and CIDR matching for AuthorizationPolicy ipBlocks/remoteIpBlocks and `when` IP keys.
 * node:net's BlockList does the matching (a maintained, exact implementation).
 */
import { BlockList, isIP } from 'node:net';

export interface CidrSet {
  has(ip: string): boolean;
}

export function compileCidrs(values: readonly string[]): CidrSet {
  const list = new BlockList();
  for (const v of values) {
    const [addr, bits] = v.split('/');
    const family = isIP(addr ?? '');
    if (!family) continue;
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return {
    has(ip: string): boolean {
      const f = isIP(ip);
      if (!f) return false;
      return list.check(ip, f === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
