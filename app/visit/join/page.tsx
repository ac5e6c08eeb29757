import { PatientJoin } from '@/components/visits/patient-join';

export const dynamic = 'force-dynamic';

/** The patient's join screen: no account, no PHI; the one-time link's fragment is the credential. */
export default function JoinPage() {
  return <PatientJoin />;
}
