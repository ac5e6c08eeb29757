import 'server-only';

export { handleFhirRequest, type FhirRequest, type FhirResponse } from '@/lib/features/fhir/api';
export { approveApp, authorizeMessages, consentRequest, grantOnOffer, type AuthorizeRequest } from '@/lib/features/fhir/authorize';
export { handleOAuthRequest, resumeAuthorization } from '@/lib/features/fhir/oauth-endpoint';
export { capabilityStatement, fhirBaseFor, smartConfiguration, FHIR_PATH } from '@/lib/features/fhir/capability';
export { corsHeadersFor } from '@/lib/features/fhir/apps';
export { launchableApps, launchApp, type LaunchableApp } from '@/lib/features/fhir/launch';
export { appScopeChoices, listSmartApps, registerBackendClient, registerSmartApp, revokeSmartApp, type SmartAppSummary } from '@/lib/features/fhir/registry';
