import { describe, expect, it } from 'vitest';
import { addressRefusal, isBlockedAddress } from './ssrf-guard.js';

// Pure decisions: nothing here opens a socket or asks DNS.

describe('SSRF guard: an address from DNS (resolved)', () => {
  it.each([
    // IPv4 link-local and metadata
    ['169.254.169.254', true],
    ['169.254.0.1', true],
    ['169.254.255.255', true],
    ['100.100.100.200', true],
    // IPv4 unspecified (dials this host), multicast, broadcast
    ['0.0.0.0', true],
    ['0.1.2.3', true],
    ['224.0.0.1', true],
    ['239.255.255.250', true],
    ['255.255.255.255', true],
    // IPv6 link-local (fe80::/10, any case, with a zone id) and AWS
    ['fe80::1', true],
    ['FE80::A9FE:A9FE', true],
    ['febf:ffff::1', true],
    ['fe80::1%eth0', true],
    ['fd00:ec2::254', true],
    ['fd00:ec2::1', true],
    ['fd00:ec2:ffff::1', true],
    // IPv6 unspecified and multicast
    ['::', true],
    ['0:0:0:0:0:0:0:0', true],
    ['ff02::1', true],
    ['ff05::1:3', true],
    // IPv4-mapped, dotted and hex, and the rest of the blocked IPv4 set inside it
    ['::ffff:169.254.169.254', true],
    ['::ffff:a9fe:a9fe', true],
    ['::FFFF:A9FE:A9FE', true],
    ['0:0:0:0:0:ffff:a9fe:a9fe', true],
    ['::ffff:a9fe:a9fe%eth0', true],
    ['::ffff:100.100.100.200', true],
    ['::ffff:6464:64c8', true],
    ['::ffff:0.0.0.0', true],
    ['::ffff:255.255.255.255', true],
    ['::ffff:224.0.0.1', true],
    // IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0:0/96)
    ['::169.254.169.254', true],
    ['::a9fe:a9fe', true],
    ['::ffff:0:a9fe:a9fe', true],
    // NAT64: well-known /96, and the local-use 64:ff9b:1::/48 at /48 and /96 positions
    ['64:ff9b::169.254.169.254', true],
    ['64:ff9b::a9fe:a9fe', true],
    ['64:ff9b::6464:64c8', true],
    ['64:ff9b:1:a9fe:a9:fe00::', true],
    ['64:ff9b:1::a9fe:a9fe', true],
    // 6to4 (IPv4 in bits 16-47)
    ['2002:a9fe:a9fe::1', true],
    ['2002:6464:64c8::', true],
    // Teredo: client 169.254.169.254 XOR'd in the last 32 bits (server 65.54.227.120); server in range
    ['2001:0:4136:e378:8000:63bf:5601:5601', true],
    ['2001:0:a9fe:a9fe:0:0:f5ff:fffe', true],
    // not an IP: DNS only answers addresses, so this is refused (fail closed)
    ['keycloak.keycloak.svc', true],
    ['', true],
    ['1.2.3.4.5', true],
    ['256.1.1.1', true],
    ['fe80::1%a%b', true],

    // allowed: loopback, private (in-cluster IdPs, tests), public, and the edges of blocked ranges
    ['127.0.0.1', false],
    ['127.1.2.3', false],
    ['10.0.0.5', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['8.8.8.8', false],
    ['100.100.100.201', false],
    ['100.64.0.1', false],
    ['169.253.255.255', false],
    ['169.255.0.1', false],
    ['223.255.255.255', false],
    ['1.0.0.0', false],
    ['::1', false],
    ['fc00::1', false],
    ['fd12:3456::1', false],
    ['fd00::1', false],
    ['fd00:ec3::1', false],
    ['fe7f::1', false],
    ['fec0::1', false],
    ['2001:db8::1', false],
    ['2606:4700::1111', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['64:ff9b::10.0.0.1', false],
    ['64:ff9b::808:808', false],
    ['2002:a00:1::1', false],
    ['2001:0:4136:e378:8000:63bf:f5ff:fffe', false],
  ])('%s blocked: %s', (address, blocked) => {
    expect(isBlockedAddress(address)).toBe(blocked);
  });
});

describe('SSRF guard: a host before DNS (literal), read as the dialer reads it', () => {
  it.each([
    // inet_aton spellings of 169.254.169.254 (getaddrinfo would dial them), bracketed, zone ids
    ['2852039166', true],
    ['0251.0376.0251.0376', true],
    ['0xa9fea9fe', true],
    ['0XA9FEA9FE', true],
    ['169.254.43518', true],
    ['169.16689662', true],
    ['0xa9.0xfe.0xa9.0xfe', true],
    ['0', true],
    ['169.254.169.254.', true],
    ['[::ffff:a9fe:a9fe]', true],
    ['fe80::1%eth0', true],
    ['[fe80::1%eth0]', true],
    // a name: allowed here, its addresses are checked by the lookup hook
    ['keycloak.keycloak.svc', false],
    ['idp.example.com', false],
    ['1.2.3.4.5', false],
    ['256.1.1.1', false],
    // loopback in odd spellings stays allowed
    ['2130706433', false],
    ['0x7f000001', false],
    ['127.1', false],
    ['[::1]', false],
  ])('%s blocked: %s', (host, blocked) => {
    expect(isBlockedAddress(host, 'literal')).toBe(blocked);
  });
});

describe('WHATWG URL writes IPv4 hosts of http(s) URLs as dotted quads before the guard sees them', () => {
  it.each([
    ['http://2852039166/jwks', '169.254.169.254'],
    ['https://0xa9fea9fe/jwks', '169.254.169.254'],
    ['http://0251.0376.0251.0376/jwks', '169.254.169.254'],
    ['http://169.254.43518/jwks', '169.254.169.254'],
    ['http://169.254.169.254./jwks', '169.254.169.254'],
    ['http://[::ffff:169.254.169.254]/jwks', '[::ffff:a9fe:a9fe]'],
    ['http://[::169.254.169.254]/jwks', '[::a9fe:a9fe]'],
    ['http://[64:ff9b::169.254.169.254]/jwks', '[64:ff9b::a9fe:a9fe]'],
  ])('%s has host %s, which is blocked', (url, hostname) => {
    expect(new URL(url).hostname).toBe(hostname);
    expect(isBlockedAddress(hostname, 'literal')).toBe(true);
  });

  it('refuses a zone id in a URL (RFC 6874 is not part of WHATWG URL)', () => {
    expect(() => new URL('http://[fe80::1%25eth0]/jwks')).toThrow();
  });
});

describe('SSRF guard: the refusal names the address as given and the IPv4 decided on', () => {
  it.each([
    ['169.254.169.254', 'resolved', 'address 169.254.169.254 is blocked (link-local or metadata service)'],
    ['::ffff:a9fe:a9fe', 'resolved', 'address ::ffff:a9fe:a9fe (169.254.169.254) is blocked (link-local or metadata service)'],
    ['2002:6464:64c8::', 'resolved', 'address 2002:6464:64c8:: (100.100.100.200) is blocked (link-local or metadata service)'],
    ['fd00:ec2::254', 'resolved', 'address fd00:ec2::254 is blocked (link-local or metadata service)'],
    ['0.0.0.0', 'resolved', 'address 0.0.0.0 is blocked (unspecified address)'],
    ['::', 'resolved', 'address :: is blocked (unspecified address)'],
    ['ff02::1', 'resolved', 'address ff02::1 is blocked (multicast or broadcast)'],
    ['255.255.255.255', 'resolved', 'address 255.255.255.255 is blocked (multicast or broadcast)'],
    ['keycloak', 'resolved', 'address keycloak is blocked (not an IP address)'],
    ['0xa9fea9fe', 'literal', 'address 0xa9fea9fe (169.254.169.254) is blocked (link-local or metadata service)'],
    ['fe80::1%eth0', 'literal', 'address fe80::1%eth0 is blocked (link-local or metadata service)'],
    ['127.0.0.1', 'resolved', undefined],
    ['keycloak', 'literal', undefined],
  ] as const)('%s (%s): %s', (address, source, message) => {
    expect(addressRefusal(address, source)).toBe(message);
  });
});
