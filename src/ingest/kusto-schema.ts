// Ingest stage: the NSPAccessLogs table schema (nsp-reference.md §1.1), in the Kusto
// `(Name:type, …)` form the language service takes, so every generated query can be checked
// against the real column names and types. Every column is string/datetime/int; none is dynamic.

/** NSPAccessLogs columns and their Log Analytics types, in the reference's order. */
export const NSP_ACCESS_LOGS_COLUMNS: readonly (readonly [name: string, type: string])[] = [
  ['TimeGenerated', 'datetime'],
  ['TimeGeneratedEndTime', 'datetime'],
  ['Count', 'int'],
  ['Category', 'string'],
  ['OperationName', 'string'],
  ['OperationVersion', 'string'],
  ['ResultAction', 'string'],
  ['ResultDirection', 'string'],
  ['ResultDescription', 'string'],
  ['RuleType', 'string'],
  ['TrafficType', 'string'],
  ['MatchedRule', 'string'],
  ['Profile', 'string'],
  ['AccessRuleVersion', 'string'],
  ['ServiceResourceId', 'string'],
  ['ServiceFqdn', 'string'],
  ['AppId', 'string'],
  ['Parameters', 'string'],
  ['Location', 'string'],
  ['SourceIpAddress', 'string'],
  ['SourcePort', 'string'],
  ['SourceProtocol', 'string'],
  ['SourceResourceId', 'string'],
  ['SourceAppId', 'string'],
  ['SourcePerimeterGuids', 'string'],
  ['SourceParameters', 'string'],
  ['DestinationFqdn', 'string'],
  ['DestinationPort', 'string'],
  ['DestinationProtocol', 'string'],
  ['DestinationResourceId', 'string'],
  ['DestinationParameters', 'string'],
  ['DestinationEmailAddress', 'string'],
  ['DestinationPhoneNumber', 'string'],
  // Standard Log Analytics columns; _ResourceId is the perimeter's id.
  ['SourceSystem', 'string'],
  ['TenantId', 'string'],
  ['Type', 'string'],
  ['_ResourceId', 'string'],
  ['_SubscriptionId', 'string'],
  ['_BilledSize', 'real'],
  ['_IsBillable', 'string'],
];

/** The schema as the Kusto language service's TableSymbol takes it: `(TimeGenerated:datetime, …)`. */
export const NSP_ACCESS_LOGS_SCHEMA = `(${NSP_ACCESS_LOGS_COLUMNS.map(([name, type]) => `${name}:${type}`).join(', ')})`;
