import Link from 'next/link';
import { VisitRoom } from '@/components/visits/visit-room';
import { requireViewer } from '@/lib/features/auth/current';
import { openVisitRoom, RECORDER_TIMESLICE_MS } from '@/lib/features/visits';
import { endVisitAction, issueJoinLinkAction, revokeJoinLinksAction } from '../actions';

export default async function VisitPage({ params }: { params: Promise<{ id: string; visitId: string }> }) {
  const viewer = await requireViewer();
  const { id, visitId } = await params;
  const room = await openVisitRoom(viewer, { visitId });
  if (!room.ok || room.value.patientId !== id) {
    return (
      <div className="mx-auto max-w-xl rounded-lg border border-red-200 bg-white p-6" data-testid="visit-unavailable">
        <h1 className="text-xl font-semibold">{room.ok ? 'This visit is not available.' : room.message}</h1>
        <Link href={`/patients/${id}`} className="mt-4 inline-block text-sm text-calm hover:underline">Back to the chart</Link>
      </div>
    );
  }
  const visit = room.value;
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Video visit</h1>
      <VisitRoom visitId={visit.visitId} patientId={visit.patientId} iceServers={visit.iceServers} patientJoined={visit.patientJoined} consent={visit.consent}
        timesliceMs={RECORDER_TIMESLICE_MS} issueLink={issueJoinLinkAction} revokeLinks={revokeJoinLinksAction} endVisit={endVisitAction} />
    </div>
  );
}
