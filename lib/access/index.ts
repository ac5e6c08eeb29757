import 'server-only';

export * from './admin-rules';
export * from './authorize';
export * from './care-team';
export * from './permissions';
export * from './roles';
export type { Viewer } from './viewer';
