/**
 * No PHI in any log line: objects with PHI fields (by the PHI map's names), errors whose
 * message quotes a patient, and PHI-shaped free text all come out redacted.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, safePath, scrub } from '@/lib/platform/log';

const patient = {
  mrn: '40000017',
  givenName: 'Ingrid',
  familyName: 'Brightwater',
  dateOfBirth: '1961-04-09',
  phone: '555-123-4567',
  address: { line1: '12 Maple Ave', city: 'Springfield', state: 'IL', postalCode: '62701' },
};
const markers = ['40000017', 'Ingrid', 'Brightwater', '1961-04-09', '555-123-4567', 'Maple Ave', 'Springfield', 'Penicillin', 'chest pain since Tuesday'];

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger(stream as never, 'debug'), lines };
}

describe('the structured logger', () => {
  it('redacts every PHI field, nested or not, and keeps the non-PHI facts', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        patientId: 'c0ffee00-0000-4000-8000-000000000001',
        demographics: patient,
        body: { substance: 'Penicillin', reaction: 'Hives' },
        note: { text: 'chest pain since Tuesday', author: 'Dr. Ada Quinlan' },
        rows: [{ familyName: 'Brightwater' }],
        section: 'allergies',
      },
      'Chart entry written',
    );
    const out = lines.join('');
    for (const marker of markers) expect(out).not.toContain(marker);
    expect(out).toContain('c0ffee00-0000-4000-8000-000000000001');
    expect(out).toContain('allergies');
    expect(out).toContain('Chart entry written');
  });

  it('logs errors without their message (which may quote PHI) but with type and stack frames', () => {
    const { logger, lines } = capture();
    const error = Object.assign(new Error(`duplicate key for Brightwater, Ingrid (MRN 40000017, born 1961-04-09)`), { digest: '12345abc' });
    logger.error({ err: error, context: { cause: new TypeError('Ingrid') } }, 'Request failed');
    const out = lines.join('');
    for (const marker of markers) expect(out).not.toContain(marker);
    const entry = JSON.parse(lines[0]!);
    expect(entry.err.type).toBe('Error');
    expect(entry.err.digest).toBe('12345abc');
    expect(entry.err.frames.length).toBeGreaterThan(0);
  });

  it('masks MRN- and DOB-shaped values in free text and in the message itself', () => {
    const { logger, lines } = capture();
    logger.warn({ detail: 'lookup 40000017 on 1961-04-09' }, 'search for 40000017 failed');
    const out = lines.join('');
    expect(out).not.toContain('40000017');
    expect(out).not.toContain('1961-04-09');
  });

  it('drops query strings from logged paths (search terms are PHI)', () => {
    expect(safePath('/patients?q=Brightwater')).toBe('/patients');
    expect(scrub({ path: safePath('http://h/patients/abc?q=1961-04-09') })).toEqual({ path: '/patients/abc' });
  });
});
