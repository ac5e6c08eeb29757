/**
 * One browser session against a deployment of several instances: one cookie jar, requests sent
 * to the balancer (or, to prove a point, straight to one instance with the same cookies), and
 * for every response the instance that answered (X-Vigil-Instance). Forms are posted the way a
 * browser without JavaScript posts them: the page's hidden fields (the server action's id and
 * bound state) plus the fields typed in.
 */
import { formHtml, hiddenFields, keepCookies } from '@/bench/load/client';

export interface Page {
  status: number;
  text: string;
  /** The instance that answered (X-Vigil-Instance), or null (HAProxy's own answer). */
  instance: string | null;
  location: string | null;
}

export class SessionBrowser {
  private readonly cookies = new Map<string, string>();
  /** Every instance that answered this session, in order. */
  readonly answeredBy: string[] = [];

  constructor(readonly baseUrl: string) {}

  /** A second tab of the same session (the same cookies from now on, a copy). */
  copy(): SessionBrowser {
    const other = new SessionBrowser(this.baseUrl);
    for (const [name, value] of this.cookies) other.cookies.set(name, value);
    return other;
  }

  get signedIn(): boolean {
    return [...this.cookies.keys()].some((name) => name.endsWith('authjs.session-token'));
  }

  async request(path: string, init: RequestInit & { via?: string } = {}): Promise<Page> {
    const base = init.via ?? this.baseUrl;
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    if (init.method === 'POST') headers.set('origin', base);
    const response = await fetch(`${base}${path}`, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(60_000) });
    keepCookies(this.cookies, response.headers);
    const instance = response.headers.get('x-vigil-instance');
    if (instance) this.answeredBy.push(instance);
    return { status: response.status, text: await response.text(), instance, location: response.headers.get('location') };
  }

  get(path: string, via?: string): Promise<Page> {
    return this.request(path, { via });
  }

  /** Posts the form of `page` whose opening tag contains `marker` (or whose body contains it), with `fields` filled in. */
  async submit(path: string, page: string, marker: string, fields: Record<string, string>, via?: string): Promise<Page> {
    const form = formHtml(page, marker) ?? [...page.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)].map((m) => m[0]).find((f) => f.includes(marker));
    if (!form) throw new Error(`No form marked ${marker} on ${path}.`);
    const body = new FormData();
    for (const [name, value] of hiddenFields(form)) body.append(name, value);
    for (const [name, value] of Object.entries(fields)) body.append(name, value);
    return this.request(path, { method: 'POST', body, via });
  }

  /** The login form, filled in and submitted; success is a redirect with a session cookie. */
  async signIn(email: string, password: string, via?: string): Promise<Page> {
    const login = await this.get('/login', via);
    const reply = await this.submit('/login', login.text, 'method="POST"', { email, password }, via).catch(() => this.submit('/login', login.text, 'method="post"', { email, password }, via));
    if (!this.signedIn) throw new Error(`Sign-in of ${email} failed (status ${reply.status}).`);
    return reply;
  }
}
