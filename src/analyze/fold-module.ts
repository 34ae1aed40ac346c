// Analyze stage, start-up: the fold module (wasm/fold-lines.ts: the byte scanner, the fold, the
// sorted run and the merge), compiled once per process. The CLI shim's first import compiles it
// (worker-pool.ts) and hands it to every analysis worker it starts, so they share its machine code:
// a function one worker's hot loop has V8 optimize is optimized for all, and compiled once.

import { readFileSync } from 'node:fs';

/** The compiled module's file; under the TypeScript test runner, the build's copy in dist/. */
function wasmUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL(here.replace(/\/src\/analyze\/fold-module\.ts$/, '/dist/src/analyze/wasm/fold-lines.wasm'));
  return new URL('./wasm/fold-lines.wasm', here);
}

let compiled: WebAssembly.Module | undefined;

/** The fold module: the one handed to this thread (useFoldModule), else compiled here once. */
export function foldModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(wasmUrl()));
  return compiled;
}

/** Copies `values` into a fresh allocation of an instance of the module. @returns where they are */
export function copyToModule(x: { alloc(bytes: number): number }, memory: WebAssembly.Memory, values: ArrayBufferView): number {
  const at = x.alloc(Math.max(values.byteLength, 8));
  new Uint8Array(memory.buffer, at, values.byteLength).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return at;
}

/** Whether `error` is a trap of the module (here: an allocation past its heap's limit). */
export function isTrap(error: unknown): boolean {
  return error instanceof (WebAssembly as unknown as { RuntimeError: ErrorConstructor }).RuntimeError;
}

/** Uses a module compiled by another thread (a worker's, from the thread that started it). */
export function useFoldModule(module: WebAssembly.Module): void {
  compiled = module;
}
