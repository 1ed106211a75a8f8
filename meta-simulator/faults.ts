import { randomUUID } from 'node:crypto';

/** Graph/OAuth endpoint families a fault can target. */
export type Endpoint =
  | 'send'
  | 'profile'
  | 'subscribed_apps'
  | 'token'
  | 'refresh'
  | 'me'
  | 'conversations'
  | 'message'
  | 'comments'
  | 'media'
  | 'authorize'
  | 'cdn'
  | 'other';

export type FaultEndpoint = Endpoint | '*';

export interface FaultSpec {
  endpoint: FaultEndpoint;
  /** Added before the (possibly faulty) answer. */
  latencyMs?: number;
  /** Never answer; the socket is closed after `hangMs` (default 60 s) or when the simulator closes. */
  timeout?: true;
  hangMs?: number;
  /** Answer with this 5xx and Meta's transient-error body. */
  status5xx?: number;
  /** Answer with this Meta error. */
  metaError?: {
    code: number;
    subcode?: number;
    type?: string;
    message?: string;
    httpStatus?: number;
  };
  /** Destroy the socket without answering. */
  dropConnection?: true;
  /** How many matching requests the fault applies to; default: until cleared. */
  times?: number;
  /** Only requests whose token belongs to this account. */
  accountIgId?: string;
}

export interface Fault extends FaultSpec {
  id: string;
  /** Requests the fault was applied to so far. */
  hits: number;
  clear(): void;
}

export class FaultRegistry {
  private faults: Fault[] = [];

  add(spec: FaultSpec): Fault {
    const fault: Fault = {
      ...spec,
      id: randomUUID(),
      hits: 0,
      clear: () => {
        this.faults = this.faults.filter((f) => f !== fault);
      },
    };
    this.faults.push(fault);
    return fault;
  }

  clear(): void {
    this.faults = [];
  }

  list(): Fault[] {
    return [...this.faults];
  }

  /** Returns the first active fault for the request and consumes one of its `times`. */
  take(endpoint: Endpoint, accountIgId: string | undefined): Fault | undefined {
    const fault = this.faults.find(
      (f) =>
        (f.endpoint === '*' || f.endpoint === endpoint) &&
        (!f.accountIgId || f.accountIgId === accountIgId) &&
        (f.times === undefined || f.hits < f.times),
    );
    if (!fault) return undefined;
    fault.hits += 1;
    if (fault.times !== undefined && fault.hits >= fault.times) fault.clear();
    return fault;
  }
}
