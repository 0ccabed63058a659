/**
 * How many SMS parts a text takes, counted as a phone counts them (3GPP TS 23.038 / 23.040):
 * a text in the GSM 7-bit alphabet takes 160 septets in one part, or 153 per part once it is
 * split (the concatenation header takes the rest); characters of the extension table (`€`,
 * `[`, `{`, …) take two septets. Anything else sends the whole text as UCS-2: 70 code units in
 * one part, 67 per part when split. A character outside the Basic Multilingual Plane (an emoji)
 * is two UTF-16 code units, and a phone does not split it across parts.
 */
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENSION = '\f^{}\\[~]|€';

const basic = new Set(GSM7_BASIC);
const extension = new Set(GSM7_EXTENSION);

export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SmsParts {
  encoding: SmsEncoding;
  parts: number;
}

export function countSmsParts(text: string): SmsParts {
  let septets = 0;
  for (const char of text) {
    if (basic.has(char)) septets += 1;
    else if (extension.has(char)) septets += 2;
    else return { encoding: 'UCS-2', parts: ucs2Parts(text) };
  }
  if (septets <= 160) return { encoding: 'GSM-7', parts: 1 };
  return { encoding: 'GSM-7', parts: gsm7Parts(text) };
}

/** Split as a phone does: an extension character (escape + char) is never split across parts. */
function gsm7Parts(text: string): number {
  let parts = 1;
  let used = 0;
  for (const char of text) {
    const size = extension.has(char) ? 2 : 1;
    if (used + size > 153) {
      parts += 1;
      used = 0;
    }
    used += size;
  }
  return parts;
}

/** UTF-16 code units; a surrogate pair stays in one part. */
function ucs2Parts(text: string): number {
  if (text.length <= 70) return 1;
  let parts = 1;
  let used = 0;
  for (const char of text) {
    const size = char.length;
    if (used + size > 67) {
      parts += 1;
      used = 0;
    }
    used += size;
  }
  return parts;
}
