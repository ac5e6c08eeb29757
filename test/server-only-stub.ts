// Stub for 'server-only' under Vitest: tests are server code.
export {};
