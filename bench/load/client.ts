/**
 * An HTTP client that uses the portal the way a clinician's browser does without JavaScript:
 * it signs in through the login page's form, searches with the search box's GET, opens charts,
 * and records vitals by submitting the chart's vitals form (React renders every server-action
 * form with the hidden fields a no-JS browser posts back, so this is the page's own write path:
 * the server action, requireViewer, lib/features/records addEntry, the audit entry, the re-rendered
 * chart). Device readings go through the JWE machine API. Every request goes to 127.0.0.1.
 */
import { randomUUID } from 'node:crypto';
import { CompactEncrypt, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';

export class PortalError extends Error {
  constructor(
    readonly operation: string,
    message: string,
    readonly status?: number,
  ) {
    super(`${operation}: ${message}`);
  }
}

export interface PatientLink {
  id: string;
  name: string;
}

export interface VitalsValues {
  heartRate: number;
  systolic: number;
  diastolic: number;
  temperatureC: number;
  respiratoryRate: number;
  spo2: number;
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

const PATIENT_LINK = /<a[^>]*href="\/patients\/([0-9a-f-]{36})"[^>]*>([^<]+)<\/a>/g;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'", '#x27': "'" };
const decodeEntities = (value: string) => value.replace(/&(amp|lt|gt|quot|apos|#39|#x27);/g, (_, name: string) => ENTITIES[name]!);

/** The fields of one `<form>`'s hidden inputs, as a browser would post them back. */
export function hiddenFields(formHtml: string): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  for (const input of formHtml.matchAll(/<input\b([^>]*?)\/?>/g)) {
    const attrs = new Map([...input[1]!.matchAll(/([a-zA-Z-]+)="([^"]*)"/g)].map((m) => [m[1]!, decodeEntities(m[2]!)]));
    if (attrs.get('type') === 'hidden' && attrs.has('name')) fields.push([attrs.get('name')!, attrs.get('value') ?? '']);
  }
  return fields;
}

/** The first `<form>` whose opening tag matches `marker` (e.g. `data-testid="vitals-form"`). */
export function formHtml(page: string, marker: string): string | null {
  for (const form of page.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)) {
    const open = form[0].slice(0, form[0].indexOf('>') + 1);
    if (open.includes(marker)) return form[0];
  }
  return null;
}

/** A response's Set-Cookie lines applied to a cookie jar, as a browser does (an emptied or expired cookie is removed). */
export function keepCookies(jar: Map<string, string>, headers: Headers): void {
  for (const cookie of headers.getSetCookie()) {
    const [pair = ''] = cookie.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (!name) continue;
    if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(cookie)) jar.delete(name);
    else jar.set(name, value);
  }
}

export function patientLinks(page: string): PatientLink[] {
  return [...page.matchAll(PATIENT_LINK)].map((m) => ({ id: m[1]!, name: decodeEntities(m[2]!) }));
}

export class ClinicianClient {
  private readonly cookies = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 60_000,
  ) {}

  get signedIn(): boolean {
    return [...this.cookies.keys()].some((name) => name.endsWith('authjs.session-token'));
  }

  private async send(operation: string, path: string, init: RequestInit = {}): Promise<Reply> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw new PortalError(operation, `request failed (${error instanceof Error ? (error.cause as Error | undefined)?.message ?? error.message : String(error)})`);
    }
    keepCookies(this.cookies, response.headers);
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /** Any page as this browser would fetch it (with its cookies), e.g. a chart's RSC payload. */
  async page(operation: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number; text: string }> {
    const reply = await this.send(operation, path, { headers });
    return { status: reply.status, bytes: Buffer.byteLength(reply.text), text: reply.text };
  }

  /** The login page's form, filled in and submitted; success is the redirect into the portal with a session cookie. */
  async signIn(email: string, password: string): Promise<void> {
    const page = await this.send('sign-in', '/login');
    const form = page.status === 200 ? formHtml(page.text, 'method="POST"') ?? formHtml(page.text, 'method="post"') : null;
    if (!form) throw new PortalError('sign-in', 'the login form was not found', page.status);
    const body = new FormData();
    for (const [name, value] of hiddenFields(form)) body.append(name, value);
    body.append('email', email);
    body.append('password', password);
    const reply = await this.send('sign-in', '/login', { method: 'POST', body, headers: { origin: this.baseUrl } });
    if (reply.status !== 303 && reply.status !== 302) throw new PortalError('sign-in', `expected a redirect, got ${reply.status}`, reply.status);
    if (!this.signedIn) throw new PortalError('sign-in', 'no session cookie was set', reply.status);
  }

  /** The patient list, optionally searched (the search box submits `q` with GET). */
  async searchPatients(q = '', operation = 'search'): Promise<PatientLink[]> {
    const reply = await this.send(operation, q ? `/patients?${new URLSearchParams({ q })}` : '/patients');
    if (reply.status !== 200) throw new PortalError(operation, `status ${reply.status}`, reply.status);
    if (!reply.text.includes('My patients')) throw new PortalError(operation, 'not the patient list');
    return patientLinks(reply.text);
  }

  /** A chart page; returns its HTML (the vitals form in it is what recordVitals posts back). */
  async openChart(patientId: string): Promise<string> {
    const reply = await this.send('chart open', `/patients/${patientId}`);
    if (reply.status !== 200) throw new PortalError('chart open', `status ${reply.status}`, reply.status);
    if (!reply.text.includes('data-testid="vitals-form"')) throw new PortalError('chart open', 'the chart has no vitals form (no access?)');
    return reply.text;
  }

  /** Submits the chart's vitals form; resolves once the portal answers "Saved.". */
  async recordVitals(patientId: string, chartHtml: string, values: VitalsValues): Promise<void> {
    const form = formHtml(chartHtml, 'data-testid="vitals-form"');
    if (!form) throw new PortalError('vitals write', 'no vitals form on the chart');
    const body = new FormData();
    for (const [name, value] of hiddenFields(form)) body.append(name, value);
    for (const [name, value] of Object.entries(values)) body.append(name, String(value));
    const reply = await this.send('vitals write', `/patients/${patientId}`, { method: 'POST', body, headers: { origin: this.baseUrl } });
    if (reply.status !== 200) throw new PortalError('vitals write', `status ${reply.status}`, reply.status);
    if (!reply.text.includes('Saved.')) throw new PortalError('vitals write', 'the portal did not confirm the write', reply.status);
  }
}

/** What a device holds: the credential an admin issued, and the private half of the signing key it was issued with. */
export interface DeviceIdentity {
  credential: string;
  signingJwk: JWK;
}

/** The audience a reading is signed for (lib/features/devices/device-message.ts). */
const READING_AUDIENCE = 'urn:vigil:api:phi:vitals';

/**
 * One reading as a device sends it: a JWS signed with the device's private key (EdDSA for an
 * Ed25519 key, ES256 for P-256) carrying the client id as `iss`, the endpoint as `aud`, a fresh
 * `jti` and a five-minute window, then encrypted to the portal's public key (ECDH-ES+A256KW,
 * A256GCM). `claims` overrides any claim, for tests that send what a broken or hostile device would.
 */
export async function sealReading(
  device: DeviceIdentity,
  portalKey: CryptoKey | Uint8Array,
  payload: { patientId: string; vitals: unknown },
  claims: { jti?: string; iat?: number; exp?: number; iss?: string; aud?: string } = {},
): Promise<string> {
  const alg = device.signingJwk.kty === 'OKP' ? 'EdDSA' : 'ES256';
  const nowSeconds = Math.floor(Date.now() / 1000);
  const iat = claims.iat ?? nowSeconds;
  const jws = await new SignJWT({ ...payload })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setIssuer(claims.iss ?? device.credential.split('.')[0]!)
    .setAudience(claims.aud ?? READING_AUDIENCE)
    .setJti(claims.jti ?? randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(claims.exp ?? iat + 300)
    .sign(await importJWK(device.signingJwk, alg));
  return new CompactEncrypt(new TextEncoder().encode(jws)).setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', cty: 'JWT' }).encrypt(portalKey);
}

/** A bedside monitor posting signed readings through the JWE machine API; resolves with the new record's id. */
export class DeviceClient {
  private key: CryptoKey | Uint8Array | null = null;

  constructor(
    readonly baseUrl: string,
    private readonly device: DeviceIdentity,
  ) {}

  private async portalKey(): Promise<CryptoKey | Uint8Array> {
    if (this.key) return this.key;
    const response = await fetch(`${this.baseUrl}/api/phi/key`, { signal: AbortSignal.timeout(30_000) });
    const { keys } = (await response.json()) as { keys: JWK[] };
    this.key = await importJWK(keys[0]!, 'ECDH-ES+A256KW');
    return this.key;
  }

  async postVitals(patientId: string, vitals: Record<string, unknown>, auditId: string): Promise<string> {
    let response: Response;
    try {
      const jwe = await sealReading(this.device, await this.portalKey(), { patientId, vitals });
      response = await fetch(`${this.baseUrl}/api/phi/vitals`, {
        method: 'POST',
        body: jwe,
        headers: { authorization: `Bearer ${this.device.credential}`, 'x-audit-id': auditId, 'content-type': 'application/jose' },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new PortalError('device write', `request failed (${error instanceof Error ? error.message : String(error)})`);
    }
    const body = (await response.json().catch(() => ({}))) as { id?: string };
    if (response.status !== 201 || !body.id) throw new PortalError('device write', `status ${response.status}`, response.status);
    return body.id;
  }
}
