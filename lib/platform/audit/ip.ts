import 'server-only';

/**
 * Client addresses in the exact text PostgreSQL prints for an `inet` value, so an entry hashes
 * the same when it is written and when the verifier reads it back. PostgreSQL formats IPv6 with
 * BIND's inet_net_ntop (src/port/inet_net_ntop.c), which is not RFC 5952: the longest run of two
 * or more zero groups becomes "::" (the first run on a tie), groups are lower-case hex without
 * leading zeros, and the low 32 bits are printed as a dotted quad when the first 96 bits are zero
 * ("::1.2.3.4") or the address is IPv4-mapped ("::ffff:1.2.3.4"). IPv4-mapped addresses (how a
 * dual-stack socket reports an IPv4 client) are stored as plain IPv4 instead, so one client has
 * one address in the log. Anything that is not a single address (a CIDR suffix, a name, garbage
 * from a forged header) is stored as null rather than failing the request it belongs to.
 */
export function normaliseIp(ip: string | null | undefined): string | null {
  if (!ip) return null;
  const text = ip.trim().replace(/^\[(.*)\]$/, '$1');
  const v4 = parseIpv4(text);
  if (v4) return v4.join('.');
  const words = parseIpv6(text.replace(/%[0-9a-z_.~-]+$/i, ''));
  if (!words) return null;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return [words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join('.');
  }
  return formatIpv6(words);
}

function parseIpv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/** Eight 16-bit groups, or null. Accepts "::" once and a trailing dotted quad. */
function parseIpv6(text: string): number[] | null {
  if (!/^[0-9a-f:.]+$/i.test(text) || text.length > 45) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (const [i, piece] of pieces.entries()) {
      if (piece.includes('.')) {
        const v4 = i === pieces.length - 1 ? parseIpv4(piece) : null;
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  // A dotted quad may only end the address, never precede "::".
  if (halves[0]!.includes('.')) return null;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...new Array<number>(missing).fill(0), ...tail] : null;
}

function formatIpv6(words: number[]): string {
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      cur = cur.base === -1 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 };
    } else if (cur.base !== -1) {
      if (best.base === -1 || cur.len > best.len) best = cur;
      cur = { base: -1, len: 0 };
    }
  }
  if (cur.base !== -1 && (best.base === -1 || cur.len > best.len)) best = cur;
  if (best.base !== -1 && best.len < 2) best = { base: -1, len: 0 };

  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // (PostgreSQL also prints "::ffff:a.b.c.d" this way; mapped addresses never get here.)
    if (i === 6 && best.base === 0 && best.len === 6) {
      out += [words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join('.');
      break;
    }
    out += words[i]!.toString(16);
  }
  if (best.base !== -1 && best.base + best.len === 8) out += ':';
  return out;
}
