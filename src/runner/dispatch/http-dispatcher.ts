// The HTTP batch dispatcher (WMF rpc/RunJobs.php style): POST with an empty body to the rendered
// URL template, e.g. http://127.0.0.1:9005/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u&maxmem=%(maxmem)u.
// The original production form `curl -XPOST -s -a '<url>'` is accepted too: its URL is used.
import type { Logger } from '../../observability/logger.js';
import { bodyResult, statusFailure } from './http-result.js';
import type { Masker } from './masking.js';
import {
  DispatchConfigError,
  checkUrlTemplate,
  placeholderValues,
  renderUrlTemplate,
  type Placeholder,
} from './placeholders.js';
import { PostDispatcher } from './post-dispatcher.js';
import { parseCommandTemplate, type Word } from './shell-words.js';
import type { DispatchRequest, DispatchResult, Dispatcher } from './types.js';

export interface HttpDispatcherOptions {
  readonly template: string;
  readonly connectTimeoutMs: number;
  readonly logger: Logger;
  readonly mask: Masker;
}

const WHERE = 'dispatch.template';

function placeholderText(p: Placeholder): string {
  return `%(${p.name})${p.encoding}`;
}

function wordTemplate(word: Word): string {
  return word.segments.map((s) => ('text' in s ? s.text : placeholderText(s.placeholder))).join('');
}

/**
 * The URL template of an HTTP dispatcher: the template itself when it is a URL, or the URL
 * argument of a `curl …` command (JSON-style `\/` escapes undone, as in the original config).
 */
export function urlTemplateOf(template: string): { url: string; ignoredCurlArgs: string[] } {
  const trimmed = template.trim();
  if (/^https?:\/\//i.test(trimmed)) return { url: trimmed, ignoredCurlArgs: [] };
  const parsed = parseCommandTemplate(trimmed, WHERE);
  const words = parsed.words.map(wordTemplate);
  const command = words[0] ?? '';
  if (command !== 'curl' && !command.endsWith('/curl')) {
    throw new DispatchConfigError(
      `${WHERE}: an http dispatcher needs a URL or a curl command, got ${command}`,
    );
  }
  if (parsed.shellReason !== null) {
    throw new DispatchConfigError(`${WHERE}: curl command uses ${parsed.shellReason}; give the URL instead`);
  }
  const urls = words.slice(1).filter((w) => /^https?:(\/\/|\\\/\\\/)/i.test(w));
  if (urls.length !== 1) {
    throw new DispatchConfigError(
      `${WHERE}: curl command must contain exactly one http(s) URL, found ${urls.length}`,
    );
  }
  const url = (urls[0] as string).replace(/\\\//g, '/');
  return { url, ignoredCurlArgs: words.slice(1).filter((w) => !/^https?:/i.test(w)) };
}

export class HttpDispatcher extends PostDispatcher implements Dispatcher {
  readonly kind = 'http' as const;
  readonly urlTemplate: string;

  constructor(options: HttpDispatcherOptions) {
    super(options.connectTimeoutMs, options.mask);
    const { url, ignoredCurlArgs } = urlTemplateOf(options.template);
    checkUrlTemplate(url, WHERE);
    this.urlTemplate = url;
    if (ignoredCurlArgs.length > 0) {
      options.logger.info(
        'http dispatcher: using the URL of the curl command; other curl options are ignored',
        {
          url: options.mask(url),
          ignored: ignoredCurlArgs.map(options.mask),
        },
      );
    }
  }

  protected targetOf(): string {
    return `POST ${this.urlTemplate}`;
  }

  protected async run(request: DispatchRequest, abort: AbortSignal): Promise<DispatchResult> {
    const url = new URL(renderUrlTemplate(this.urlTemplate, placeholderValues(request), WHERE));
    const answer = await this.post(request, abort, { url, body: '', target: `POST ${url.href}` });
    if ('result' in answer) return answer.result;
    const { ctx, response } = answer;
    if (response.status < 200 || response.status > 299) return statusFailure(ctx, response);
    return bodyResult(ctx, response);
  }
}
