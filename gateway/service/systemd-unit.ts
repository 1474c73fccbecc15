/**
 * The systemd unit that runs Pasarela as a service: restarted always (after a delay),
 * its data under /var/lib/pasarela (`StateDirectory`), logs to journald, as an
 * unprivileged user in the `dialout` group (serial ports) holding only the two
 * capabilities noble needs for a raw HCI socket, with the file system read-only
 * around it. Pure: it renders text, nothing else.
 */

export const UNIT_NAME = 'pasarela.service';
export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
export const DEFAULT_CONFIG_PATH = '/etc/pasarela/pasarela.yaml';
export const DEFAULT_USER = 'pasarela';
/** Where `StateDirectory=pasarela` puts the data of a system service. */
export const STATE_DIR = '/var/lib/pasarela';

export interface UnitOptions {
  /** The Node.js binary (absolute). */
  node: string;
  /** The command's built entry, `dist/gateway/cli.js` (absolute). */
  cli: string;
  /** The config file the service runs with (absolute). */
  config: string;
  /** The user it runs as. */
  user: string;
  /** Pasarela's version, named in the header. */
  version: string;
}

/** A user name systemd and useradd both accept. */
export function isUserName(name: string): boolean {
  return /^[a-z_][a-z0-9_-]{0,30}$/.test(name);
}

/**
 * One ExecStart word: quoted when it holds what systemd would split or expand;
 * `%` (specifiers) and `$` (environment) are doubled so they stay literal.
 */
export function execWord(word: string): string {
  const literal = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (literal !== '' && !/[\s"'\\;]/.test(literal)) return literal;
  return `"${literal.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function renderUnit(options: UnitOptions): string {
  if (!isUserName(options.user)) throw new Error(`not a user name: "${options.user}"`);
  const exec = [options.node, options.cli, '--config', options.config].map(execWord).join(' ');
  return `# Written by \`pasarela service install\` (pasarela ${options.version}); \`pasarela service uninstall\` removes it.
[Unit]
Description=Pasarela gateway: BLE, serial and MQTT devices over JSTP
After=network-online.target bluetooth.target
Wants=network-online.target

[Service]
Type=simple
User=${options.user}
# Serial ports (/dev/ttyUSB*, /dev/ttyACM*) belong to the dialout group.
SupplementaryGroups=dialout
ExecStart=${exec}
# The data folder, created for the user and kept across restarts and upgrades.
StateDirectory=pasarela
StateDirectoryMode=0750
WorkingDirectory=${STATE_DIR}
Restart=always
RestartSec=5s
# Exit code 2 is a config error: restarting cannot fix it (journalctl -u pasarela says why).
RestartPreventExitStatus=2
# The command closes cleanly on SIGTERM within 2 s.
TimeoutStopSec=10s
# noble opens a raw HCI socket: these two capabilities, not root.
AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN
CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
UMask=0027
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
ProtectKernelLogs=yes
ProtectHostname=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
RemoveIPC=yes
LockPersonality=yes
SystemCallArchitectures=native
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_BLUETOOTH

[Install]
WantedBy=multi-user.target
`;
}
