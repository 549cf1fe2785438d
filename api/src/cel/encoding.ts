/**
 * Byte/text encodings behind CEL's `base64.*` and `url.*`, written out because the api package is
 * pure and because upstream's exact behaviour differs from the JS built-ins: `base64.decode`
 * accepts input with or without `=` padding but nothing outside the standard alphabet
 * (Buffer.from(s, 'base64') silently skips junk), and `url.encode` escapes everything except
 * RFC 3986 unreserved characters (encodeURIComponent leaves `!'()*` alone).
 */

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8Encode(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** Strict UTF-8 decoding: invalid sequences throw (a TypeError from TextDecoder). */
export function utf8Decode(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

/** A string as UTF-8, or bytes as they are: the functions that take "string or bytes". */
export function asBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? utf8Encode(v) : v;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** Standard base64 (RFC 4648 §4) with `=` padding (the platform's `btoa`, 32 KiB at a time). */
export function base64Encode(bytes: Uint8Array): string {
  const chunks: string[] = [];
  // Chunks of a multiple of 3 bytes encode independently (no padding in between).
  for (let i = 0; i < bytes.length; i += 0x8000 - (0x8000 % 3)) {
    const chunk = bytes.subarray(i, i + 0x8000 - (0x8000 % 3));
    chunks.push(btoa(String.fromCharCode.apply(null, chunk as unknown as number[])));
  }
  return chunks.join('');
}

/**
 * Standard-alphabet base64, padding optional (upstream decodes both `Zg==` and `Zg`). Throws on
 * any other character, misplaced padding or an impossible length (4n+1).
 */
export function base64Decode(text: string): Uint8Array {
  let end = text.length;
  if (end % 4 === 0 && end > 0) {
    if (text[end - 1] === '=') end--;
    if (text[end - 1] === '=') end--;
  }
  if (end % 4 === 1) throw new Error('invalid base64 length');
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c]! : -1;
    if (v < 0) throw new Error(`invalid base64 character at offset ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}

const HEX = '0123456789ABCDEF';

/** Percent-encodes every byte of the UTF-8 form except RFC 3986 unreserved characters. */
export function urlEncode(s: string): string {
  try {
    // encodeURIComponent also leaves !'()* alone, which RFC 3986 (and upstream) escape.
    return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + HEX[c.charCodeAt(0) >>> 4]! + HEX[c.charCodeAt(0) & 15]!);
  } catch {
    // A lone surrogate (encodeURIComponent throws): encode its UTF-8 replacement character.
    return urlEncode(utf8Decode(utf8Encode(s)));
  }
}

/**
 * Decodes `%XX` escapes (a `%` not followed by two hex digits stays as it is, `+` stays `+`), then
 * requires the bytes to be valid UTF-8 (`url.decode("%FF")` is an error upstream too).
 */
export function urlDecode(s: string): string {
  try {
    // Fast path: when the native decoder accepts the input, both agree.
    return decodeURIComponent(s);
  } catch {
    // A malformed escape (kept as is here) or invalid UTF-8 (an error here too).
  }
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // Non-ASCII text passes through as its own UTF-8 bytes.
      const cp = s.codePointAt(i)!;
      for (const b of utf8Encode(String.fromCodePoint(cp))) bytes.push(b);
      if (cp > 0xffff) i++;
    }
  }
  return utf8Decode(Uint8Array.from(bytes));
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
