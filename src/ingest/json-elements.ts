// Ingest stage: a streaming splitter for whole JSON documents (the `{"records":[…]}` wrapper, the
// Log Analytics query API's `{"tables":[{"columns","rows"}]}` and plain arrays of rows). It hands
// out the text of each row as soon as it is complete, so memory stays flat whatever the file size.

/**
 * What the splitter found: a row object, the columns of a table, the cells of a table row, or an
 * element over the size cap (skipped, never held whole).
 */
export type JsonElement =
  | { kind: 'row'; text: string; line: number }
  | { kind: 'columns'; text: string; line: number }
  | { kind: 'cells'; text: string; line: number }
  | { kind: 'oversized'; bytes: number; line: number };

/** Largest element kept (characters); larger ones are reported as oversized. */
export const MAX_ELEMENT_CHARS = 64 * 1024 * 1024;

type Role =
  | 'root-object'   // top-level object: looks for "records" / "tables"
  | 'rows'          // array whose elements are rows (top-level array, "records")
  | 'tables'        // "tables" array
  | 'table'         // one table object: looks for "columns" / "rows"
  | 'cell-rows'     // a table's "rows": elements are arrays of cells
  | 'other';        // anything else: skipped

interface Frame { isObject: boolean; role: Role; key: string | null; expectKey: boolean }

const enum C { Quote = 34, Backslash = 92, OpenBrace = 123, CloseBrace = 125, OpenBracket = 91, CloseBracket = 93, Comma = 44, Colon = 58, Newline = 10 }

/**
 * Feed text with push(); elements come out through the callback. end() reports whether the document
 * was complete. Keys are matched case-insensitively. Errors in structure outside the captured
 * elements throw a SyntaxError naming the line.
 */
export class JsonElementSplitter {
  #stack: Frame[] = [];
  #line = 1;
  #inString = false;
  #escape = false;
  #keyParts: string[] | null = null;     // collecting an object key
  #captureParts: string[] | null = null; // collecting an element's text
  #captureKind: 'row' | 'columns' | 'cells' = 'row';
  #captureDepth = 0;
  #captureLine = 0;
  #capturePrimitive = false;
  #bare = false;                         // skipping a number, true, false or null we do not capture
  #captureChars = 0;
  #captureOversized = false;
  // A root object is kept whole while it might be a row itself; dropped once it shows a
  // "records" or "tables" key (then its elements are the rows).
  #rootParts: string[] | null = null;
  #rootChars = 0;
  #rootOversized = false;
  #rootLine = 0;
  #sawRoot = false;
  #done = false;
  readonly #emit: (element: JsonElement) => void;

  constructor(emit: (element: JsonElement) => void) {
    this.#emit = emit;
  }

  /** True once the top-level value has been closed. */
  get complete(): boolean {
    return this.#done;
  }

  get line(): number {
    return this.#line;
  }

  push(chunk: string): void {
    let captureStart = this.#captureParts ? 0 : -1;
    let keyStart = this.#keyParts ? 0 : -1;
    let rootStart = this.#rootParts ? 0 : -1;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk.charCodeAt(i);
      if (c === C.Newline) this.#line++;
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (c === C.Backslash) this.#escape = true;
        else if (c === C.Quote) {
          this.#inString = false;
          if (this.#keyParts) {
            this.#keyParts.push(chunk.slice(keyStart, i + 1));
            this.#finishKey();
            keyStart = -1;
          }
        }
        continue;
      }
      if (this.#captureParts) {
        // Inside an element: track nesting only, until it closes.
        if (c === C.Quote) { this.#inString = true; continue; }
        if (c === C.OpenBrace || c === C.OpenBracket) { this.#captureDepth++; continue; }
        if (this.#capturePrimitive && (c === C.Comma || c === C.CloseBracket || c === C.CloseBrace || c <= 32)) {
          this.#keepCapture(chunk.slice(captureStart, i));
          this.#finishCapture();
          captureStart = -1;
          // Fall through: the delimiter belongs to the enclosing structure.
        } else {
          if (c === C.CloseBrace || c === C.CloseBracket) {
            if (--this.#captureDepth === 0) {
              this.#keepCapture(chunk.slice(captureStart, i + 1));
              this.#finishCapture();
              captureStart = -1;
            }
          }
          continue;
        }
      }
      if (this.#bare) {
        if (c > 32 && c !== C.Comma && c !== C.CloseBracket && c !== C.CloseBrace) continue;
        this.#bare = false;
      }
      if (c <= 32) continue;
      const top = this.#stack[this.#stack.length - 1];
      if (top?.isObject && top.expectKey) {
        if (c === C.Quote) { this.#inString = true; this.#keyParts = []; keyStart = i; continue; }
        if (c === C.CloseBrace) { if (this.#close()) this.#finishRoot(chunk.slice(rootStart, i + 1)); continue; }
        if (c === C.Comma) continue;
        throw new SyntaxError(`Cannot parse JSON document: expected a key at line ${this.#line}`);
      }
      if (c === C.Colon || c === C.Comma) continue;
      if (c === C.CloseBrace || c === C.CloseBracket) { if (this.#close()) this.#finishRoot(chunk.slice(rootStart, i + 1)); continue; }
      // A value starts here. After a complete root value, another one starts a sequence (JSON lines
      // read as a document, or concatenated documents): each is read the same way.
      if (this.#done && !top) this.#done = false;
      const captureKind = this.#captureKindFor(top);
      if (captureKind) {
        this.#captureParts = [];
        this.#captureChars = 0;
        this.#captureOversized = false;
        this.#captureKind = captureKind;
        this.#captureLine = this.#line;
        captureStart = i;
        if (c === C.OpenBrace || c === C.OpenBracket) { this.#captureDepth = 1; this.#capturePrimitive = false; }
        else { this.#capturePrimitive = true; if (c === C.Quote) { this.#inString = true; } }
        if (top?.isObject) top.expectKey = true;
        continue;
      }
      if (c === C.OpenBrace || c === C.OpenBracket) {
        if (!top && c === C.OpenBrace) {
          this.#rootParts = [];
          this.#rootChars = 0;
          this.#rootOversized = false;
          this.#rootLine = this.#line;
          rootStart = i;
        }
        const role = this.#roleFor(top, c === C.OpenBrace);
        if (top?.isObject) top.expectKey = true;
        this.#stack.push({ isObject: c === C.OpenBrace, role, key: null, expectKey: c === C.OpenBrace });
        this.#sawRoot = true;
        continue;
      }
      // A primitive we do not capture (e.g. a table's "name"): skip it.
      if (c === C.Quote) this.#inString = true;
      else this.#bare = true;
      if (top?.isObject) top.expectKey = true;
      if (!top) { this.#sawRoot = true; this.#done = true; }
    }
    if (this.#captureParts && captureStart !== -1) this.#keepCapture(chunk.slice(captureStart));
    if (this.#keyParts && keyStart !== -1) this.#keyParts.push(chunk.slice(keyStart));
    if (this.#rootParts && rootStart !== -1) this.#keepRoot(chunk.slice(rootStart));
  }

  /** Keeps part of an element unless it is over the cap (then only its size is counted). */
  #keepCapture(part: string): void {
    this.#captureChars += part.length;
    if (this.#captureChars > MAX_ELEMENT_CHARS) { this.#captureOversized = true; this.#captureParts = []; return; }
    if (!this.#captureOversized) this.#captureParts!.push(part);
  }

  #keepRoot(part: string): void {
    this.#rootChars += part.length;
    if (this.#rootChars > MAX_ELEMENT_CHARS) { this.#rootOversized = true; this.#rootParts = []; return; }
    if (!this.#rootOversized) this.#rootParts!.push(part);
  }

  /** A root object closed that never showed "records" or "tables": it is a row itself. */
  #finishRoot(lastPart: string): void {
    if (!this.#rootParts) return;
    this.#keepRoot(lastPart);
    const text = this.#rootParts.join('');
    this.#rootParts = null;
    if (this.#rootOversized) this.#emit({ kind: 'oversized', bytes: this.#rootChars, line: this.#rootLine });
    else this.#emit({ kind: 'row', text, line: this.#rootLine });
  }

  /** @returns true when the document was complete (not truncated) */
  end(): boolean {
    if (this.#captureParts && this.#capturePrimitive && !this.#inString) {
      this.#finishCapture();
    }
    return this.#sawRoot && this.#done && !this.#captureParts && !this.#inString;
  }

  #captureKindFor(parent: Frame | undefined): 'row' | 'columns' | 'cells' | null {
    if (!parent) return null;
    if (parent.role === 'rows') return 'row';
    if (parent.role === 'cell-rows') return 'cells';
    if (parent.role === 'table' && parent.key === 'columns') return 'columns';
    return null;
  }

  #roleFor(parent: Frame | undefined, isObject: boolean): Role {
    if (!parent) return isObject ? 'root-object' : 'rows';
    if (parent.role === 'root-object' && !isObject) {
      if (parent.key === 'records') return 'rows';
      if (parent.key === 'tables') return 'tables';
    }
    if (parent.role === 'tables' && isObject) return 'table';
    if (parent.role === 'table' && !isObject && parent.key === 'rows') return 'cell-rows';
    return 'other';
  }

  #finishKey(): void {
    const raw = this.#keyParts!.join('');
    this.#keyParts = null;
    const top = this.#stack[this.#stack.length - 1]!;
    top.key = (JSON.parse(raw) as string).toLowerCase();
    top.expectKey = false;
    if (this.#stack.length === 1 && top.role === 'root-object' && (top.key === 'records' || top.key === 'tables')) this.#rootParts = null;
  }

  #finishCapture(): void {
    const text = this.#captureParts!.join('');
    this.#captureParts = null;
    if (this.#captureOversized) this.#emit({ kind: 'oversized', bytes: this.#captureChars, line: this.#captureLine });
    else this.#emit({ kind: this.#captureKind, text, line: this.#captureLine });
  }

  /** Closes a container. @returns true when a root object just closed */
  #close(): boolean {
    if (this.#stack.length === 0) throw new SyntaxError(`Cannot parse JSON document: unbalanced bracket at line ${this.#line}`);
    const closed = this.#stack.pop()!;
    const top = this.#stack[this.#stack.length - 1];
    if (top?.isObject) top.expectKey = true;
    if (this.#stack.length === 0) this.#done = true;
    return this.#stack.length === 0 && closed.isObject;
  }
}
