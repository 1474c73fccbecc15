/**
 * The `line` link: a text command/response protocol (GRBL, AT firmware), described
 * by a line profile. A command is one line; reply lines follow, then `ok` or
 * `error:<code>`. Status and event lines may come at any time, even between a
 * command and its `ok`, and are told apart by the profile's patterns.
 */
import { errors, PasarelaError, Status } from '../../gateway/jstp/errors.js';
import { CommandQueue } from '../command-queue.js';
import type { Link, LinkHello, LinkOptions } from './link.js';
import { badReply, deviceAnswered, deviceRestarted, linkStopped, portGone } from './link-errors.js';
import type { LineProfile, LineProperty } from './line-profile.js';
import { fillTemplate, objectFromGroups, textFromValue, valueFromText, type TextRule } from './text-values.js';

/** A longer line is noise (or a stuck device); it is skipped up to its end. */
const MAX_LINE = 1024;

type LineCounter = 'lines' | 'linesIgnored' | 'linesOverlong' | 'badReplies' | 'timeouts';

interface InFlight {
  readonly command: string;
  readonly lines: string[];
}

export class LineLink implements Link {
  readonly protocol = 'line' as const;
  private readonly queue: CommandQueue<InFlight>;
  private partial = '';
  private skipping = false;
  private closed = false;
  private readonly count: Record<LineCounter, number> = { lines: 0, linesIgnored: 0, linesOverlong: 0, badReplies: 0, timeouts: 0 };

  constructor(private readonly options: LinkOptions, private readonly profile: LineProfile) {
    // No transaction ids here: a late reply must not be read as the next command's.
    this.queue = new CommandQueue({
      timeoutMs: options.commandTimeoutMs,
      holdOnAbort: true,
      onTimeout: () => this.bump('timeouts'),
    });
  }

  async hello(signal?: AbortSignal): Promise<LinkHello> {
    const timeout = this.options.helloTimeoutMs;
    if (this.profile.hello) await this.command(this.profile.hello, signal, timeout);
    const values: Record<string, unknown> = {};
    for (const property of this.profile.properties.values()) {
      if (property.read) values[property.name] = await this.readProperty(property, signal, timeout);
    }
    return { description: this.profile.description, values };
  }

  async read(name: string, signal?: AbortSignal): Promise<unknown> {
    const property = this.property(name);
    if (!property.read) throw notSupported(`${name} cannot be read on this line protocol`);
    return this.readProperty(property, signal);
  }

  async write(name: string, value: unknown, signal?: AbortSignal): Promise<unknown> {
    const property = this.property(name);
    if (!property.write) throw notSupported(`${name} cannot be written on this line protocol`);
    const command = fillTemplate(property.write, value, property.converter);
    const lines = await this.command(command, signal);
    // A device that echoes the value confirms it; one that only says ok took it as sent.
    return property.reply ? this.parseReply(property, lines, false) ?? value : value;
  }

  async invoke(name: string, input: unknown, signal?: AbortSignal): Promise<unknown> {
    const action = this.profile.actions.get(name);
    if (!action) throw deviceAnswered(Status.NotFound, `no action ${name}`);
    const lines = await this.command(fillTemplate(action.command, input ?? {}), signal);
    if (!action.reply) return null;
    for (const line of lines) {
      const match = action.reply.exec(line);
      if (match) return match.groups ? objectFromGroups(action.spec.output, match.groups) : match[1] ?? match[0];
    }
    this.bump('badReplies');
    throw badReply(`no reply line matching ${action.reply} to ${name}`);
  }

  receive(bytes: Uint8Array): void {
    if (this.closed) return;
    // latin1 keeps every byte as one character: noise cannot break the decoding.
    let text = this.partial + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
    let newline: number;
    while ((newline = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, newline);
      text = text.slice(newline + 1);
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      this.line(line.replace(/\r$/, '').trim());
    }
    if (text.length > MAX_LINE) {
      this.skipping = true;
      this.bump('linesOverlong');
      text = '';
    }
    this.partial = this.skipping ? '' : text;
  }

  counters(): Record<string, number> {
    return { ...this.count };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.failAll(linkStopped(this.options.name));
  }

  private property(name: string): LineProperty {
    const property = this.profile.properties.get(name);
    if (!property) throw deviceAnswered(Status.NotFound, `no property ${name}`);
    return property;
  }

  private async readProperty(property: LineProperty, signal?: AbortSignal, timeoutMs?: number): Promise<unknown> {
    const lines = await this.command(property.read!, signal, timeoutMs);
    return this.parseReply(property, lines, true);
  }

  /** The value in the first reply line that fits; undefined (or a 502) when none does. */
  private parseReply(property: LineProperty, lines: readonly string[], required: boolean): unknown {
    for (const line of lines) {
      if (!property.reply) return valueFromText(rule(property), line);
      const match = property.reply.exec(line);
      if (!match) continue;
      if (match.groups && property.spec.type === 'object') return objectFromGroups(property.spec, match.groups);
      return valueFromText(rule(property), match[1] ?? match[0]);
    }
    if (!required) return undefined;
    this.bump('badReplies');
    throw badReply(`no reply line for ${property.name}${property.reply ? ` matching ${property.reply}` : ''}`);
  }

  private command(command: string, signal?: AbortSignal, timeoutMs?: number): Promise<string[]> {
    if (this.closed) return Promise.reject(portGone(this.options.name));
    textFromValue(command); // refuses a command with a line break in it
    return this.queue.run<string[]>({ command, lines: [] }, (flight) => {
      this.options.write(Buffer.from(`${flight.command}\n`, 'latin1'));
    }, signal, timeoutMs);
  }

  private line(line: string): void {
    if (line === '') return;
    this.count.lines++;
    if (this.unsolicited(line)) return;
    const flight = this.queue.current;
    if (flight) {
      if (this.profile.ok.test(line)) {
        this.queue.settle(flight.lines);
        return;
      }
      const error = this.profile.error.exec(line);
      if (error) {
        const code = error[1] ?? '';
        const known = this.profile.errors.get(code);
        this.queue.fail(deviceAnswered(known?.status ?? Status.InternalError, known?.reason ?? `the device answered ${line}`));
        return;
      }
      flight.lines.push(line);
      return;
    }
    this.bump('linesIgnored');
  }

  /** Status, event and announce lines; true when the line was one. */
  private unsolicited(line: string): boolean {
    const { listener } = this.options;
    for (const status of this.profile.status) {
      const match = status.match.exec(line);
      if (!match) continue;
      const groups = match.groups ?? {};
      try {
        const values: [string, unknown][] = status.properties.map(([name, mapping]) => {
          const property = this.profile.properties.get(name)!;
          if (typeof mapping === 'string') {
            const text = groups[mapping];
            if (text === undefined) throw badReply(`status line has no group ${mapping}`);
            return [name, valueFromText(rule(property), text)];
          }
          return [name, objectFromGroups(property.spec, groups, mapping)];
        });
        for (const [name, value] of values) listener.property(name, value);
      } catch (error) {
        this.bump('badReplies');
        this.options.logger.debug({ err: error, line }, 'unusable status line');
      }
      return true;
    }
    for (const event of this.profile.events) {
      const match = event.match.exec(line);
      if (!match) continue;
      try {
        listener.event(event.name, match.groups ? objectFromGroups(event.data, match.groups) : null);
      } catch (error) {
        this.bump('badReplies');
        this.options.logger.debug({ err: error, line }, 'unusable event line');
      }
      return true;
    }
    if (this.profile.announce?.test(line)) {
      this.queue.failAll(deviceRestarted(this.options.name));
      listener.announced();
      return true;
    }
    return false;
  }

  private bump(counter: LineCounter): void {
    this.count[counter]++;
    this.options.listener.countersChanged();
  }
}

function rule(property: LineProperty): TextRule {
  return { schema: property.spec, converter: property.converter, map: property.map };
}

function notSupported(message: string): PasarelaError {
  return errors.notSupported(message);
}
