import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Where a subscription's webhook may point. The URL comes from an API client, and the API process
 * sits inside the company's network: unchecked, a subscription would make it POST the company's
 * events to its own databases, admin consoles or cloud metadata service (SSRF). So a destination is
 * https to a public address, unless its host is one the configuration names
 * (EPCIS_SUBSCRIPTION_ALLOWED_HOSTS: an internal receiver, a test's 127.0.0.1), which may also be
 * reached over http. A host name is checked again on every connection, on the addresses it resolves
 * to then, so a name that later resolves to a private address (DNS rebinding) is refused too.
 */

/** Addresses no webhook reaches unless its host is allowed by name: loopback, private, link-local, reserved. */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96], // IPv4-mapped: checked as the IPv4 address it maps
  ['64:ff9b::', 96], // NAT64
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');

/** Whether an IP address is one a webhook may reach without its host being allowed. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !NOT_PUBLIC.check(address, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    if (mapped) return isPublicAddress(mapped);
    return !NOT_PUBLIC.check(address, 'ipv6');
  }
  return false;
}

/** The URL's host as compared with the allowed list: lower case, an IPv6 literal without brackets, a name without its root dot. */
export function hostOf(url: URL): string {
  return url.hostname
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

/** Why a webhook URL is refused under the configuration's allowed hosts; null when it may be used. */
export function destinationProblem(dest: string, allowedHosts: readonly string[]): string | null {
  let url: URL;
  try {
    url = new URL(dest);
  } catch {
    return 'must be an absolute URL';
  }
  const host = hostOf(url);
  const allowed = allowedHosts.includes(host);
  if (url.protocol === 'http:' && !allowed) return 'must be an https URL (http only to a host the configuration allows)';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an https URL';
  if (allowed) return null;
  if (isIP(host))
    return isPublicAddress(host) ? null : 'names a loopback, private or reserved address, which the configuration does not allow';
  if (host === 'localhost' || /\.(localhost|local|internal|localdomain|home\.arpa)$/.test(host) || !host.includes('.'))
    return 'names a host of the local network, which the configuration does not allow';
  return null;
}

/**
 * The lookup a webhook's connection uses: the system's resolver, refusing a name that resolves to
 * an address that is not public, unless the host is allowed by name.
 */
export function guardedLookup(allowedHosts: readonly string[]): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const list = Array.isArray(addresses) ? addresses : [];
      if (!allowedHosts.includes(hostname.toLowerCase().replace(/\.$/, ''))) {
        const blocked = list.find((a) => !isPublicAddress(a.address));
        if (blocked) {
          const refused = Object.assign(new Error(`${hostname} resolves to a non-public address`), { code: 'EADDRNOTAVAIL' });
          return callback(refused, '', 0);
        }
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      return callback(null, first.address, first.family);
    });
  };
}
