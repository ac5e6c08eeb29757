import 'server-only';

export { startVisit, issueJoinLink, revokeJoinLinks, endVisit, openVisitRoom, clinicianSignals, clinicianSignal, listVisits, type VisitRoom, type VisitSummary } from '@/lib/features/visits/visits';
export { joinWithLink, patientGuest, answerConsent, patientSignals, patientSignal, VISIT_COOKIE, type JoinedVisit, type PatientGuest } from '@/lib/features/visits/join';
export { startRecording, addRecordingChunk, NO_CONSENT_MESSAGE } from '@/lib/features/visits/recordings';
export { asksToWatch, openPlayback, playbackMedia, reportWatched, recordingViewers, playbackMessages, type Playback, type RecordingViewer } from '@/lib/features/visits/playback';
export { eventStreamResponse, lastEventIdOf, parseSignal, MAX_SIGNAL_BYTES } from '@/lib/features/visits/signalling';
export { RECORDER_TIMESLICE_MS } from '@/lib/domain/visits/recording-rules';
