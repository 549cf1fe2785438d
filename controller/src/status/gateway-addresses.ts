/** A Service as far as the Gateway's status addresses need it. */
type ServiceLike = { spec?: { clusterIP?: string }; status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } } };

/** Addresses of a Gateway's proxy Service: load-balancer ingress when assigned, else its cluster IP. */
export function gatewayAddresses(svc: unknown): Array<{ type: string; value: string }> {
  const s = svc as ServiceLike | undefined;
  const ingress = s?.status?.loadBalancer?.ingress ?? [];
  const fromLb = ingress.flatMap((i) =>
    i.ip ? [{ type: 'IPAddress', value: i.ip }] : i.hostname ? [{ type: 'Hostname', value: i.hostname }] : [],
  );
  if (fromLb.length > 0) return fromLb;
  const ip = s?.spec?.clusterIP;
  return ip && ip !== 'None' ? [{ type: 'IPAddress', value: ip }] : [];
}
