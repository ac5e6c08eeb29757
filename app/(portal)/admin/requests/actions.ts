'use server';

import { revalidatePath } from 'next/cache';
import { formStateOf, formText as text, type AdminFormState } from '@/components/admin/form-state';
import { decideAdminRequest } from '@/lib/features/admin';
import { guardedAction } from '@/lib/features/auth/entry';

/** Approve or refuse: lib/features/admin/approvals.ts decides who may, and checks the password. */
export const decideRequestAction = guardedAction(
  decideAdminRequest,
  (_viewer, _previous: AdminFormState, form: FormData) => ({
    requestId: text(form, 'requestId'),
    decision: text(form, 'decision'),
    adminPassword: text(form, 'adminPassword'),
  }),
  (result, _previous, form) => {
    if (result.ok) revalidatePath('/admin/requests');
    return formStateOf(result, form);
  },
);
