// A TCP proxy on 127.0.0.1 that the chaos suite puts between the relay and PostgreSQL, and
// between the relay and Kafka, to inject network faults the processes cannot tell from real ones.
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * One fault, applied to every connection through the proxy (open ones and new ones) for
 * `durationMs`, after which the proxy forwards normally again. The effects combine: latency with
 * loss, bandwidth with latency. Without any effect the fault is a plain pass for that long.
 */
export interface FaultSpec {
  /** How long the fault lasts; the proxy restores plain forwarding afterwards. Required, > 0. */
  readonly durationMs: number;
  /** Delay of every chunk, in ms, ± `jitterMs` (uniform). Order within a direction is kept. */
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  /** Throughput per direction of each connection, in bytes per second. */
  readonly bytesPerSecond?: number;
  /** At the start, reset (TCP RST) every open connection; during it, reset each new one at once. */
  readonly reset?: boolean;
  /**
   * Accept connections but forward nothing, either way: bytes are held, as a network partition
   * holds TCP segments. When the fault ends, connections still open get their bytes (TCP would
   * have retransmitted them); a peer that gave up and closed meanwhile loses them, as it would.
   */
  readonly blackhole?: boolean;
  /**
   * Half-open link: hold one direction only. `upstream` holds what the client sends (requests
   * never arrive); `downstream` holds what the server answers (requests arrive, answers never
   * do: the ambiguous ack). Released at the end like a blackhole.
   */
  readonly hold?: 'upstream' | 'downstream';
  /** Probability, per forwarded chunk, that its connection is reset (0..1). */
  readonly lossProbability?: number;
}

/** Counters of what the proxy did, for the scenario's notes. */
export interface ProxyStats {
  connections: number;
  open: number;
  resets: number;
  bytesUp: number;
  bytesDown: number;
  faults: number;
}

/** Options of {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /** Where to forward, on 127.0.0.1. */
  readonly targetPort: number;
  /** Port to listen on; 0 (default) picks a free one. */
  readonly port?: number;
  /** Name in error messages ("kafka link", "pg link"). */
  readonly name?: string;
  /** Random number source, for tests; default Math.random. */
  readonly random?: () => number;
}

interface Chunk {
  readonly data: Buffer;
  /** Earliest wall-clock ms it may be written. */
  readonly at: number;
}

/** Above this many queued bytes a direction pauses its source (bounded memory under throttling). */
const HIGH_WATER = 4 * 1024 * 1024;

/**
 * One direction of one connection: a queue of chunks, each written when its time has come and
 * the direction is not held.
 */
class Direction {
  readonly #src: Socket;
  readonly #dst: Socket;
  readonly #queue: Chunk[] = [];
  #queued = 0;
  #lastAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #held = false;

  constructor(src: Socket, dst: Socket) {
    this.#src = src;
    this.#dst = dst;
  }

  push(data: Buffer, delayMs: number, bytesPerSecond: number | undefined): void {
    const now = Date.now();
    const start = Math.max(this.#lastAt, now + delayMs);
    const at = bytesPerSecond ? start + (data.length / bytesPerSecond) * 1000 : start;
    this.#lastAt = at;
    this.#queue.push({ data, at });
    this.#queued += data.length;
    if (this.#queued > HIGH_WATER) this.#src.pause();
    this.#pump();
  }

  hold(on: boolean): void {
    this.#held = on;
    if (!on) {
      // Held time does not count as latency twice: released chunks go out now, in order.
      this.#lastAt = Date.now();
      this.#pump();
    }
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }

  #pump(): void {
    if (this.#timer || this.#held) return;
    const now = Date.now();
    while (this.#queue.length > 0 && this.#queue[0]!.at <= now) {
      const chunk = this.#queue.shift()!;
      this.#queued -= chunk.data.length;
      if (!this.#dst.destroyed) this.#dst.write(chunk.data);
    }
    if (this.#queued <= HIGH_WATER / 4 && this.#src.isPaused()) this.#src.resume();
    if (this.#queue.length > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, this.#queue[0]!.at - now);
    }
  }
}

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly up: Direction;
  readonly down: Direction;
}

/**
 * A TCP fault proxy on 127.0.0.1. In pass mode it forwards bytes unchanged. {@link fault} applies
 * a {@link FaultSpec} to all connections, open and new, and restores pass mode by itself after
 * the fault's duration, so a scenario that dies mid-fault never leaves a link broken for the next
 * one past `close()`. Only one fault is active at a time: a new one replaces the current one.
 * Bytes are never altered or reordered within a direction; they are only delayed, held, or lost
 * with their whole connection (reset), as TCP would.
 */
export class FaultProxy {
  readonly name: string;
  readonly targetPort: number;
  readonly stats: ProxyStats = { connections: 0, open: 0, resets: 0, bytesUp: 0, bytesDown: 0, faults: 0 };
  readonly #server: Server;
  readonly #links = new Set<Link>();
  readonly #random: () => number;
  #fault: FaultSpec | undefined;
  #faultTimer: NodeJS.Timeout | undefined;
  #faultDone: (() => void) | undefined;
  #port = 0;

  private constructor(options: FaultProxyOptions) {
    this.name = options.name ?? `proxy to ${options.targetPort}`;
    this.targetPort = options.targetPort;
    this.#random = options.random ?? Math.random;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Starts a proxy listening on 127.0.0.1; rejects if the port is taken. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    proxy.#port = (proxy.#server.address() as AddressInfo).port;
    return proxy;
  }

  /** The port the proxy listens on. */
  get port(): number {
    return this.#port;
  }

  /** The active fault, or undefined in pass mode. */
  get current(): FaultSpec | undefined {
    return this.#fault;
  }

  /**
   * Applies `spec` now, replacing any active fault; resolves when it has ended and pass mode is
   * back (also when a later fault or {@link pass} ends it early).
   */
  fault(spec: FaultSpec): Promise<void> {
    validate(spec, this.name);
    this.#end();
    this.#fault = spec;
    this.stats.faults++;
    if (spec.reset) for (const link of [...this.#links]) this.#reset(link);
    this.#applyHolds();
    return new Promise<void>((resolve) => {
      this.#faultDone = resolve;
      this.#faultTimer = setTimeout(() => this.#end(), spec.durationMs);
    });
  }

  /** Ends the active fault now (pass mode). */
  pass(): void {
    this.#end();
  }

  /** Resets every open connection once, without a lasting fault (a flapping link). */
  resetAll(): void {
    for (const link of [...this.#links]) this.#reset(link);
  }

  /** Stops listening and destroys every connection. Idempotent. */
  async close(): Promise<void> {
    this.#end();
    for (const link of [...this.#links]) this.#destroy(link);
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #end(): void {
    if (this.#faultTimer) clearTimeout(this.#faultTimer);
    this.#faultTimer = undefined;
    this.#fault = undefined;
    this.#applyHolds();
    const done = this.#faultDone;
    this.#faultDone = undefined;
    done?.();
  }

  #applyHolds(): void {
    const f = this.#fault;
    for (const link of this.#links) {
      link.up.hold(f?.blackhole === true || f?.hold === 'upstream');
      link.down.hold(f?.blackhole === true || f?.hold === 'downstream');
    }
  }

  #accept(client: Socket): void {
    this.stats.connections++;
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    const link: Link = { client, upstream, up: new Direction(client, upstream), down: new Direction(upstream, client) };
    this.#links.add(link);
    this.stats.open = this.#links.size;
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Either side going away takes the other with it, as a real connection through a NAT would.
    for (const s of [client, upstream]) {
      s.on('error', () => this.#destroy(link));
      s.on('close', () => this.#destroy(link));
    }
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('data', (d: Buffer) => this.#forward(link, link.up, d, 'up'));
    upstream.on('data', (d: Buffer) => this.#forward(link, link.down, d, 'down'));
    if (this.#fault?.reset) {
      this.#reset(link);
      return;
    }
    this.#applyHolds();
  }

  #forward(link: Link, dir: Direction, data: Buffer, way: 'up' | 'down'): void {
    const f = this.#fault;
    if (f?.lossProbability && this.#random() < f.lossProbability) {
      this.#reset(link);
      return;
    }
    if (way === 'up') this.stats.bytesUp += data.length;
    else this.stats.bytesDown += data.length;
    const latency = f?.latencyMs ?? 0;
    const jitter = f?.jitterMs ?? 0;
    const delay = Math.max(0, latency + (jitter > 0 ? (this.#random() * 2 - 1) * jitter : 0));
    dir.push(data, delay, f?.bytesPerSecond);
  }

  #reset(link: Link): void {
    if (!this.#links.has(link)) return;
    this.stats.resets++;
    link.up.stop();
    link.down.stop();
    this.#links.delete(link);
    this.stats.open = this.#links.size;
    // An RST, not a FIN: the peer sees ECONNRESET mid-request, as with a dropped NAT entry.
    for (const s of [link.client, link.upstream]) if (!s.destroyed) s.resetAndDestroy();
  }

  #destroy(link: Link): void {
    if (!this.#links.delete(link)) return;
    this.stats.open = this.#links.size;
    link.up.stop();
    link.down.stop();
    link.client.destroy();
    link.upstream.destroy();
  }
}

function validate(spec: FaultSpec, name: string): void {
  const bad = (what: string): never => {
    throw new Error(`fault for ${name}: ${what}`);
  };
  if (!(Number.isFinite(spec.durationMs) && spec.durationMs > 0)) bad(`durationMs must be a positive number, got ${spec.durationMs}`);
  if (spec.latencyMs !== undefined && !(spec.latencyMs >= 0)) bad('latencyMs must be 0 or more');
  if (spec.jitterMs !== undefined && !(spec.jitterMs >= 0)) bad('jitterMs must be 0 or more');
  if (spec.bytesPerSecond !== undefined && !(spec.bytesPerSecond > 0)) bad('bytesPerSecond must be positive');
  if (spec.lossProbability !== undefined && !(spec.lossProbability >= 0 && spec.lossProbability <= 1))
    bad('lossProbability must be between 0 and 1');
}
