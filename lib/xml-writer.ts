/**
 * The little of XML writing the product does (EPCIS query answers, the batch generator's XML
 * documents), in one place so that every value goes through the same escaping. Output is built as
 * strings; callers that write large documents write them an event at a time.
 *
 * Escaping is done so that a parser hands back exactly the string written: `&` and `<` always, `>`
 * (for `]]>`), quotes in attributes, and carriage returns, tabs and line feeds as character
 * references where a parser would otherwise normalise them (CR in text; all three in attributes).
 * Characters XML 1.0 cannot carry at all (C0 controls other than tab, LF and CR, U+FFFE, U+FFFF,
 * unpaired surrogates) are refused, not replaced: a changed identifier would be a different one.
 */

export class NotRepresentableInXml extends Error {}

const NOT_XML_CHAR =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const TEXT_SPECIAL = /[&<>\r]/;
const ATTRIBUTE_SPECIAL = /[&<>"\r\n\t]/;
const TEXT_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };
const ATTRIBUTE_ESCAPES: Record<string, string> = { ...TEXT_ESCAPES, '"': '&quot;', '\n': '&#10;', '\t': '&#9;' };

function checkChars(value: string): void {
  const bad = NOT_XML_CHAR.exec(value);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new NotRepresentableInXml(`the value holds U+${code}, which XML 1.0 cannot carry`);
  }
}

/** Character data, escaped. */
export function escapeText(value: string): string {
  checkChars(value);
  return TEXT_SPECIAL.test(value) ? value.replace(/[&<>\r]/g, (c) => TEXT_ESCAPES[c]!) : value;
}

/** An attribute value (for a double-quoted attribute), escaped. */
export function escapeAttribute(value: string): string {
  checkChars(value);
  return ATTRIBUTE_SPECIAL.test(value) ? value.replace(/[&<>"\r\n\t]/g, (c) => ATTRIBUTE_ESCAPES[c]!) : value;
}

/** XML's NCName, the part of a name on either side of a prefix's colon (the ASCII subset plus letters beyond it). */
const NC_NAME = /^[A-Za-z_\u00C0-\uFFFD][\w.\-\u00B7\u00C0-\uFFFD]*$/;
export const isNcName = (name: string): boolean => NC_NAME.test(name) && !/^xml/i.test(name);

/** ` name="value"` for each attribute, escaped. */
export function attributes(attrs: Iterable<readonly [string, string]>): string {
  let out = '';
  for (const [name, value] of attrs) out += ` ${name}="${escapeAttribute(value)}"`;
  return out;
}

/** `<name attrs>text</name>`, the text escaped. */
export function textElement(name: string, text: string, attrs: Iterable<readonly [string, string]> = []): string {
  return `<${name}${attributes(attrs)}>${escapeText(text)}</${name}>`;
}
