import 'server-only';

export * from './authorize';
export * from './permissions';
export * from './roles';
export type { Viewer } from './viewer';
