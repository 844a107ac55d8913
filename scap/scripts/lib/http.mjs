// @ts-check
// Small HTTP GET for the status servers (loopback, no keep-alive).
import { request } from 'node:http';

/**
 * @typedef {{ status: number; body: string } | { error: string }} HttpResult
 */

/**
 * @param {string} url
 * @param {number} timeoutMs
 * @returns {Promise<HttpResult>}
 */
export function httpGet(url, timeoutMs) {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        if (body.length < 1_000_000) body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (error) => resolve({ error: error.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => {
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      resolve({ error: code === 'ECONNREFUSED' ? 'connection refused' : error.message });
    });
    req.end();
  });
}

/**
 * One line for a failed request or a non-200 answer.
 * @param {HttpResult} result
 */
export function describeHttp(result) {
  if ('error' in result) return result.error;
  const body = result.body.trim().replace(/\s+/g, ' ');
  return `HTTP ${result.status}${body ? `: ${body.length > 300 ? `${body.slice(0, 300)}…` : body}` : ''}`;
}
