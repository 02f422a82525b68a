import { ApiError } from './api.ts';

/** The name a download asks for: the UTF-8 `filename*` (a Chinese name), else the plain one. */
function fileNameOf(disposition: string | null, fallback: string): string {
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition ?? '');
  if (star) return decodeURIComponent(star[1]!);
  const plain = /filename="([^"]+)"/i.exec(disposition ?? '');
  return plain ? plain[1]! : fallback;
}

/**
 * Fetches a file the server makes on request (an export, a comparison) and saves it under the name
 * it gives. Through script rather than a bare link, so that the page can say it is being made and
 * say in words what went wrong — a link would save the server's error answer as a file.
 */
export async function saveDownload(href: string, fallback = 'export'): Promise<void> {
  const res = await fetch(href);
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string; path: string; details?: unknown } };
    const e = body.error ?? { code: 'http_error', message: `HTTP ${res.status}`, path: '' };
    throw new ApiError(res.status, e.code, e.message, e.path, e.details);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = fileNameOf(res.headers.get('content-disposition'), fallback);
  document.body.append(a);
  a.click();
  a.remove();
  // (the browser has taken the bytes once the click returns; a moment later the blob can go)
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
