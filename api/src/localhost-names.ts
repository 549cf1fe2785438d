/**
 * RFC 6761 §6.3: `localhost` and every name under `.localhost` mean the loopback address, and
 * resolvers SHOULD answer so without asking DNS. Used for endpoint hosts (an EndpointSlice of
 * addressType FQDN may name `backend.localhost`; the API server refuses 127.0.0.0/8 addresses).
 */
export function loopbackAddressOf(host: string): string | undefined {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') ? '127.0.0.1' : undefined;
}
