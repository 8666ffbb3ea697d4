import dns from 'node:dns';
import net, { type LookupFunction } from 'node:net';
import { PipelineError } from './pipeline-error';

/** [network, prefix length] of IPv4 ranges that are not reachable on the public internet. */
const NON_PUBLIC_V4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, incl. cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. broadcast 255.255.255.255
];

/** IPv6 ranges inside global unicast (2000::/3) that are still not public destinations. */
const NON_PUBLIC_V6: ReadonlyArray<readonly [string, number]> = [
  ['2001::', 32], // Teredo: tunnels to arbitrary IPv4 hosts
  ['2001:2::', 48], // benchmarking
  ['2001:10::', 28], // ORCHID (deprecated)
  ['2001:db8::', 32], // documentation
  ['3fff::', 20], // documentation
];

/**
 * True when `ip` is a public unicast address: false for loopback, private, link-local, CGNAT,
 * cloud metadata, unspecified, multicast, documentation and reserved ranges, in IPv4 and IPv6.
 * Addresses that embed an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
 * `2002::/16`) are judged by that IPv4 address, so `::ffff:127.0.0.1` is not a way around the
 * check. Anything that is not an IP address is not public (fail closed).
 */
export function isPublicAddress(ip: string): boolean {
  const v4 = parseIPv4(ip);
  if (v4) return isPublicV4(v4);
  const v6 = parseIPv6(ip);
  return v6 ? isPublicV6(v6) : false;
}

function isPublicV4(bytes: number[]): boolean {
  return !NON_PUBLIC_V4.some(([net4, bits]) => inPrefix(bytes, parseIPv4(net4)!, bits));
}

function isPublicV6(b: number[]): boolean {
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d (IPv4-mapped) and ::ffff:0:a.b.c.d (IPv4-translated)
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return isPublicV4(b.slice(12));
  if (zeros(0, 8) && b[8] === 0xff && b[9] === 0xff && zeros(10, 12)) return isPublicV4(b.slice(12));
  // 64:ff9b::/96, the well-known NAT64 prefix: the gateway connects to the embedded address.
  if (inPrefix(b, parseIPv6('64:ff9b::')!, 96)) return isPublicV4(b.slice(12));
  // Only 2000::/3 is allocated global unicast; this excludes ::, ::1, fc00::/7, fe80::/10, ff00::/8 …
  if ((b[0] & 0xe0) !== 0x20) return false;
  if (b[0] === 0x20 && b[1] === 0x02) return isPublicV4(b.slice(2, 6)); // 6to4
  return !NON_PUBLIC_V6.some(([net6, bits]) => inPrefix(b, parseIPv6(net6)!, bits));
}

function inPrefix(addr: number[], network: number[], bits: number): boolean {
  for (let i = 0; i < network.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[i] & mask) !== (network[i] & mask)) return false;
  }
  return true;
}

function parseIPv4(ip: string): number[] | null {
  if (!net.isIPv4(ip)) return null;
  return ip.split('.').map(Number);
}

/** 16 bytes of an IPv6 address (with or without a dotted IPv4 tail or a %zone), or null. */
function parseIPv6(ip: string): number[] | null {
  let s = ip.split('%')[0];
  if (!net.isIPv6(s)) return null;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = parseIPv4(dotted[1]);
    if (!v4) return null;
    s = `${s.slice(0, dotted.index)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const [head, tail] = s.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (groups.length !== 8) return null;
  return groups.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
}

/** The resolver under a safe lookup: `dns.lookup`, or a stand-in in tests. */
export type Resolver = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;

export interface SafeLookupOptions {
  /** Replaces `dns.lookup` (tests resolve names without touching the network). */
  resolve?: Resolver;
  /** Replaces `isPublicAddress` as the test of an allowed address. */
  isAllowed?: (ip: string) => boolean;
}

/**
 * A `lookup` for `net`/`http(s)` sockets that only ever hands out allowed addresses. Checking here,
 * at connect time, rather than on the URL's host name covers DNS names, redirects and DNS
 * rebinding alike: the address checked is the address connected to. Private answers are dropped;
 * a name with no allowed answer fails with URL_NOT_ALLOWED. (Sockets skip `lookup` for IP
 * literals: callers check those themselves, see `assertAllowedHost`.)
 */
export function safeLookup(allowPrivate: boolean, opts: SafeLookupOptions = {}): LookupFunction {
  const resolve: Resolver = opts.resolve ?? ((host, o, cb) => dns.lookup(host, o, cb));
  const isAllowed = allowPrivate ? () => true : (opts.isAllowed ?? isPublicAddress);
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, options.all ? [] : '', undefined);
      const allowed = addresses.filter((a) => isAllowed(a.address));
      if (allowed.length === 0) {
        const refused = new PipelineError('URL_NOT_ALLOWED', `${hostname} resolves to a private or reserved address`);
        return callback(refused as PipelineError & NodeJS.ErrnoException, options.all ? [] : '', undefined);
      }
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0].address, allowed[0].family);
    });
  };
}
