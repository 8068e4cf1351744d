import * as path from 'node:path';

/** The package root (this file is dist/src/core/paths.js once built). */
export const packageRoot = path.resolve(__dirname, '..', '..', '..');
export const fromRoot = (...parts: string[]) => path.join(packageRoot, ...parts);
