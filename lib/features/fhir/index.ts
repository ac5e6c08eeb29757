import 'server-only';

export { handleFhirRequest, type FhirRequest, type FhirResponse } from '@/lib/features/fhir/api';
export { approveApp, authorizeMessages, checkAuthorizeRequest, handleTokenRequest, type AuthorizeRequest } from '@/lib/features/fhir/authorize';
export { capabilityStatement, fhirBaseFor, smartConfiguration, FHIR_PATH } from '@/lib/features/fhir/capability';
export { corsHeadersFor } from '@/lib/features/fhir/apps';
