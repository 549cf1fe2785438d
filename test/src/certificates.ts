import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its private key, PEM. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
  /** Files holding them (for flags such as --xds-tls-cert or curl --cacert). */
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * Test certificates made by the openssl CLI (P-256, valid one day), in a directory of their own:
 * a private CA, leaves it signs, and self-signed certificates. `sans` are openssl
 * subjectAltName entries: `DNS:idp.test`, `IP:127.0.0.1`, `URI:spiffe://…`.
 */
export class TestCertificates {
  readonly dir = mkdtempSync(join(tmpdir(), 'agw-certs-'));

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: 'ignore' });
  }

  private pair(name: string): PemPair {
    const certFile = join(this.dir, `${name}.crt`);
    const keyFile = join(this.dir, `${name}.key`);
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
  }

  /** A CA (CA:TRUE, keyCertSign), self-signed. */
  ca(name: string): PemPair {
    this.openssl(
      ...NEW_KEY,
      '-x509',
      '-subj',
      `/CN=${name}`,
      '-days',
      '1',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
    return this.pair(name);
  }

  /** A leaf for `sans`, signed by the CA `caName` (made by `ca()` first). */
  leaf(name: string, caName: string, cn: string, sans: readonly string[]): PemPair {
    writeFileSync(join(this.dir, `${name}.ext`), `subjectAltName=${sans.join(',')}\n`);
    this.openssl(...NEW_KEY, '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    this.openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${caName}.crt`,
      '-CAkey',
      `${caName}.key`,
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
    return this.pair(name);
  }

  /** A self-signed certificate for `sans` (its own trust anchor, as curl --cacert takes it). */
  selfSigned(name: string, cn: string, sans: readonly string[]): PemPair {
    this.openssl(
      ...NEW_KEY,
      '-x509',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=${sans.join(',')}`,
      '-days',
      '1',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
    return this.pair(name);
  }
}

const NEW_KEY = ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'] as const;
