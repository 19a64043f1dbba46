import type { SubjectMatch } from './subjects';

/** The settings core reads; a subset of the whole Config, so core does not depend on config/. */
export interface CoreSettings {
  sessionIdGeneration: 'uuid' | 'randomstring';
  sessionIdSize: number;
  sessionTimeoutMins: number;
  sessionLeaseMillis: number;
  queueSize: number;
  queueReadTimeoutMillis: number;
  queueWriteTimeoutMillis: number;
  listenForcePullAll: boolean;
  listenForcePullAgents: string[];
  pullRefreshTimeoutMillis: number;
  pullRefreshWaitMinMillis: number;
  pullRefreshWaitMaxMillis: number;
  pollRefreshTimeoutMillis: number;
  pollRefreshWaitMinMillis: number;
  pollRefreshWaitMaxMillis: number;
  subjectMatch: SubjectMatch;
  limitSubject: number;
  limitSessions: number;
  limitSubscriptions: number;
  limitSessionsPerAddress: number;
  limitSubjectParts: number;
  limitOutputBytes: number;
  publishClients: boolean;
  publishUnicast: boolean;
  agingIntervalMillis: number;
  deliveryBatchMaxMillis: number;
}

export function leaseMs(s: CoreSettings): number {
  return s.sessionLeaseMillis || s.sessionTimeoutMins * 60_000;
}
