import 'server-only';

export const normaliseEmail = (email: string) => email.trim().toLowerCase();
