import type { Config } from '../settings';

/** The settings core reads: a part of the whole configuration (src/settings.ts). */
export type CoreSettings = Pick<Config,
  | 'sessionIdGeneration' | 'sessionIdSize' | 'sessionTimeoutMins' | 'sessionLeaseMillis'
  | 'queueSize' | 'queueReadTimeoutMillis' | 'queueWriteTimeoutMillis'
  | 'listenForcePullAll' | 'listenForcePullAgents'
  | 'pullRefreshTimeoutMillis' | 'pullRefreshWaitMinMillis' | 'pullRefreshWaitMaxMillis'
  | 'pollRefreshTimeoutMillis' | 'pollRefreshWaitMinMillis' | 'pollRefreshWaitMaxMillis'
  | 'subjectMatch' | 'limitSubject' | 'limitSessions' | 'limitSubscriptions' | 'limitSessionsPerAddress'
  | 'limitSubjectParts' | 'limitOutputBytes' | 'publishClients' | 'publishUnicast' | 'publishAnswerEarly' | 'publishAnswerMillis' | 'publishAdoptMillis'
  | 'agingIntervalMillis' | 'deliveryBatchMaxMillis'>;

export function leaseMs(s: CoreSettings): number {
  return s.sessionLeaseMillis || s.sessionTimeoutMins * 60_000;
}
