// File names are bytes. A name that is valid UTF-8 without a backslash is shown as is; any other
// name is escaped (\xNN for bytes outside valid UTF-8, \\ for a backslash), and its raw bytes are
// kept in base64. Escaped and verbatim texts cannot collide (only escaped texts contain a
// backslash), so two distinct names never share a text.
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';

const strict = new TextDecoder('utf-8', { fatal: true });

export interface PathText {
  text: string;
  /** 'utf8': the text is the name; 'escaped': decode the escapes or use raw_b64. */
  encoding: 'utf8' | 'escaped';
  /** The raw bytes, when the text is escaped. */
  rawBase64?: string;
}

function decodes(b: Buffer): string | undefined {
  try {
    return strict.decode(b);
  } catch {
    return undefined;
  }
}

export function pathText(name: Buffer): PathText {
  // isUtf8 is the strict decoder's test without an exception per invalid name.
  if (!name.includes(0x5c) && isUtf8(name)) return { text: name.toString('utf8'), encoding: 'utf8' };
  return { text: escapeName(name), encoding: 'escaped', rawBase64: name.toString('base64') };
}

/** Escapes byte by byte: valid UTF-8 sequences stay, other bytes become \xNN, "\" becomes "\\". */
export function escapeName(name: Buffer): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const b = name[i]!;
    if (b === 0x5c) {
      out += '\\\\';
      i++;
      continue;
    }
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    const seq = len > 0 && i + len <= name.length ? decodes(name.subarray(i, i + len)) : undefined;
    if (seq !== undefined) {
      out += seq;
      i += len;
    } else {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return out;
}

/** The inverse of escapeName. */
export function unescapeName(text: string): Buffer {
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') {
      parts.push(Buffer.from(run, 'utf8'));
      run = '';
      if (text[i + 1] === '\\') {
        parts.push(Buffer.from([0x5c]));
        i++;
      } else if (text[i + 1] === 'x') {
        parts.push(Buffer.from([parseInt(text.slice(i + 2, i + 4), 16)]));
        i += 3;
      } else {
        throw new Error(`bad escape at ${i} in ${JSON.stringify(text)}`);
      }
    } else {
      run += text[i];
    }
  }
  parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}
