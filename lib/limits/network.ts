import { isIPv6 } from 'node:net';

/**
 * The network a client address belongs to, for rate-limit keys. One IPv6 subscriber usually holds
 * a whole /64, so keying on the full address would let one host mint unlimited identities.
 * IPv4 is kept whole for per-IP limits; for the per-account limit it is widened to the /24, so an
 * attacker renting a block of neighbouring addresses counts as one network, while a victim on
 * another network keeps a budget of their own.
 */
export function ipKey(address: string): string {
  return isIPv6(address) ? ipv6Prefix64(address) : address;
}

export function networkKey(address: string): string {
  if (isIPv6(address)) return ipv6Prefix64(address);
  const octets = address.split('.');
  return octets.length === 4 ? `${octets.slice(0, 3).join('.')}.0/24` : address;
}

/** The first four hextets of an IPv6 address, expanded, as "2001:db8:0:1::/64". */
function ipv6Prefix64(address: string): string {
  const withoutZone = address.split('%')[0] ?? address;
  // An embedded IPv4 tail (::ffff:192.0.2.1) sits in the low 64 bits and does not matter here.
  const [head = '', tail = ''] = withoutZone.split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const missing = withoutZone.includes('::') ? 8 - headParts.length - tailParts.length : 0;
  const full = [...headParts, ...Array(Math.max(0, missing)).fill('0'), ...tailParts];
  const prefix = full.slice(0, 4).map((part) => (Number.parseInt(part || '0', 16) || 0).toString(16));
  return `${prefix.join(':')}::/64`;
}
