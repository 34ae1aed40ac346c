// Benchmark reference: DuckDB (2 threads) computing the same group-by as the analyzer —
// (perimeter, profile, resource, category, peer) → sum of count, first and last time — from the
// same JSON lines file into Parquet. Run as its own process by bench/run.ts.

import { DuckDBInstance } from '@duckdb/node-api';

const [input, output] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await db.connect();
const columns = `{time: 'VARCHAR', timeGeneratedEndTime: 'VARCHAR', count: 'VARCHAR', resourceId: 'VARCHAR', category: 'VARCHAR',
  properties: 'STRUCT(profile VARCHAR, serviceResourceId VARCHAR, source STRUCT(ipAddress VARCHAR, resourceId VARCHAR), destination STRUCT(fullyQualifiedDomainName VARCHAR))'}`;
await con.run(`COPY (
  SELECT lower(resourceId) AS perimeter, lower(properties.profile) AS profile, lower(properties.serviceResourceId) AS resource, category,
         coalesce(nullif(properties.source.resourceId, ''), properties.source.ipAddress, lower(properties.destination.fullyQualifiedDomainName)) AS peer,
         sum(coalesce(try_cast(count AS BIGINT), 1)) AS hits,
         min(time::TIMESTAMP) AS first_seen, max(coalesce(timeGeneratedEndTime, time)::TIMESTAMP) AS last_seen
  FROM read_json('${input!.replace(/'/g, "''")}', format = 'newline_delimited', columns = ${columns})
  GROUP BY ALL
) TO '${output!.replace(/'/g, "''")}' (FORMAT parquet)`);
con.closeSync();
db.closeSync();
