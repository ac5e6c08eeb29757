import { handlers } from '@/lib/features/auth/next-auth';

export const { GET, POST } = handlers;
