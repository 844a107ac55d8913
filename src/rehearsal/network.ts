// The rehearsal farm's network: one "switch" namespace holding a bridge, and one veth pair per
// host from the switch into the host's namespace. Nothing is added to the machine's own
// namespace, so every address stays inside namespaces the farm created.
import { run } from './run.js';

export class Switch {
  readonly ns: string;

  constructor(readonly prefix: string) {
    this.ns = `${prefix}sw`;
  }

  async create(): Promise<void> {
    await run(['ip', 'netns', 'add', this.ns]);
    await run(['ip', '-n', this.ns, 'link', 'set', 'lo', 'up']);
    await run(['ip', '-n', this.ns, 'link', 'add', 'br0', 'type', 'bridge']);
    await run(['ip', '-n', this.ns, 'link', 'set', 'br0', 'up']);
  }

  /** The switch-side end of a host's cable (inside the farm's own switch namespace, so plain). */
  port(host: string): string {
    const name = host;
    if (name.length > 15) throw new Error(`interface name ${name} is longer than 15 characters`);
    return name;
  }

  /** Cables host namespace `hostNs` to the bridge, with `address/prefixLength` on its eth0. */
  async connect(host: string, hostNs: string, cidr: string): Promise<void> {
    const port = this.port(host);
    await run([
      'ip',
      '-n',
      this.ns,
      'link',
      'add',
      port,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      hostNs,
    ]);
    await run(['ip', '-n', this.ns, 'link', 'set', port, 'master', 'br0', 'up']);
    await run(['ip', '-n', hostNs, 'addr', 'add', cidr, 'dev', 'eth0']);
    await run(['ip', '-n', hostNs, 'link', 'set', 'eth0', 'up']);
    await run(['ip', '-n', hostNs, 'link', 'set', 'lo', 'up']);
  }

  /** Pulls (false) or plugs back (true) a host's cable. */
  async link(host: string, up: boolean): Promise<void> {
    await run(['ip', '-n', this.ns, 'link', 'set', this.port(host), up ? 'up' : 'down']);
  }
}
