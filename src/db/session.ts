// Per-connection settings from the configuration, applied by both adapters.
export interface SessionSettings {
  workMem: string;
  maintenanceWorkMem: string;
  statementTimeoutMs: number;
}
