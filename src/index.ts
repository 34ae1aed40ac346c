// Library entry point: the same stages the CLI composes, for programs that embed nsp-advisor.
// ingest (sources, parsing) → analyze (FlowSummary, snapshots) → recommend (rules, replay, emit).

export { NspError, isNspError, type ErrorCode } from './errors.js';

// Model: the shapes that cross stage boundaries.
export * from './model/category.js';
export type { ExistingRule } from './model/existing-rules.js';
export type { Flow, FlowKey, FlowStats, FlowSummary } from './model/flow-summary.js';
export type { Issue, IssueCode, SourceAccount } from './model/issue.js';
export type { NspRecord, PeerKind } from './model/record.js';
export type { ProfileRules, RecommendedRule, RuleEvidence, RuleSet, UnresolvedSource } from './model/rule-set.js';

// Ingest.
export { detectFormat, formats, listInputFiles, readRecords } from './ingest/index.js';
export { normalizeRow, parseLogTime } from './ingest/normalize.js';
export { parseExistingRules, readExistingRules, readRuleFiles } from './ingest/existing-rules.js';
export { dataExplorerSource, listAccessRules, logAnalyticsSource } from './ingest/log-analytics.js';
export { buildQuery, kqlString } from './ingest/kql.js';

// Analyze.
export { analyze, analyzeFiles, emptySummary, FlowTable, loadSnapshot, mergeSummaries, snapshotBytes, summaryFromSnapshot, summaryToJSON } from './analyze/index.js';

// Recommend.
export { recommend, type RecommendOptions } from './recommend/index.js';
export { simulate } from './recommend/simulate.js';
export { backtest } from './recommend/backtest.js';
export { diffRules, diffToMarkdown } from './recommend/diff.js';
export { drift } from './recommend/drift.js';
export { emitFiles, emitters, type Format } from './recommend/emit/index.js';
export { solvePrefixCover, exactCollapse } from './recommend/prefix-solver.js';

// The one place stages are composed.
export { gatherFlows, type GatherFlowsOptions, type GatheredFlows, type RemoteSource } from './pipeline.js';
