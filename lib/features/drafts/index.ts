import 'server-only';

export { saveDraft, openDrafts, discardDraftIn, draftForms, DRAFT_LIFETIME_MS, type Draft, type DraftForm } from '@/lib/features/drafts/drafts';
