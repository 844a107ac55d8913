// "host[:port]" parsing for redis.aggregators / redis.queues, IPv6-aware ("[::1]:6380", bare "::1").
import type { RedisServerAddress } from '../config/types.js';

export const DEFAULT_REDIS_PORT = 6379;

export class AddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddressError';
  }
}

export function parseHostPort(raw: string, defaultPort: number): { host: string; port: number } {
  const value = raw.trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if ((value.match(/:/g) ?? []).length > 1) {
    host = value; // bare IPv6 address, no port
  } else {
    const at = value.lastIndexOf(':');
    host = at === -1 ? value : value.slice(0, at);
    portText = at === -1 ? undefined : value.slice(at + 1);
  }
  if (host === '') throw new AddressError(`"${raw}" has no host`);
  if (portText !== undefined && !/^\d+$/.test(portText)) throw new AddressError(`"${raw}" has a bad port`);
  const port = portText === undefined ? defaultPort : Number(portText);
  if (port < 1 || port > 65535) throw new AddressError(`"${raw}" has a port out of range`);
  return { host, port };
}

export function parseRedisAddress(raw: string): RedisServerAddress {
  return { raw, ...parseHostPort(raw, DEFAULT_REDIS_PORT) };
}
