import { connect as h2connect } from 'node:http2';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlainServer } from './plain-server.js';

/** One plain port, HTTP/1.1 and h2c: the first bytes of each connection decide, whatever their pacing. */
const plain = createPlainServer((req, res) => res.end(`HTTP/${req.httpVersion} ${req.method} ${req.url}`), { prefaceTimeoutMs: 300 });
let port = 0;

beforeAll(async () => {
  await new Promise<void>((r) => plain.server.listen(0, '127.0.0.1', r));
  port = (plain.server.address() as AddressInfo).port;
});
afterAll(async () => {
  plain.drain();
  plain.server.closeAllConnections();
  await new Promise<void>((r) => plain.server.close(() => r()));
});

/** Writes `chunks` one by one on a new connection, a turn apart; resolves with everything read until close. */
function rawExchange(chunks: string[]): Promise<string> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('close', () => resolve(got));
    s.on('error', () => undefined);
    s.once('connect', async () => {
      for (const c of chunks) {
        s.write(c);
        await new Promise((r) => setTimeout(r, 20));
      }
    });
  });
}

describe('plain listener: HTTP/1.1 and h2c on one port', () => {
  it('HTTP/1.1 whose first byte could start the HTTP/2 preface ("P" of POST), sent a byte at a time', async () => {
    const req = 'POST /p HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';
    const got = await rawExchange([...req.slice(0, 4)].concat(req.slice(4)));
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(got.endsWith('HTTP/1.1 POST /p')).toBe(true);
  });

  it('HTTP/2 with prior knowledge: the preface may arrive in pieces', async () => {
    const s = h2connect(`http://127.0.0.1:${port}`);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const r = s.request({ ':path': '/h2', ':method': 'GET' });
        let d = '';
        r.on('data', (c: Buffer) => (d += c.toString()));
        r.on('end', () => resolve(d));
        r.on('error', reject);
        r.end();
      });
      expect(body).toBe('HTTP/2.0 GET /h2');
    } finally {
      s.close();
    }
  });

  it('a connection that has not said which protocol within the preface timeout is closed', async () => {
    // "PRI * HT" and then nothing: a prefix of the preface, never completed.
    expect(await rawExchange(['PRI * HT'])).toBe('');
  });

  it('drain(): an HTTP/2 session gets GOAWAY and closes', async () => {
    const s = h2connect(`http://127.0.0.1:${port}`);
    await new Promise<void>((r) => s.once('connect', () => r()));
    const goaway = new Promise<void>((r) => s.once('goaway', () => r()));
    plain.drain();
    await goaway;
    await new Promise<void>((r) => (s.closed ? r() : s.once('close', () => r())));
  });
});
