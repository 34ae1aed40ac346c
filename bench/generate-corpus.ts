// Benchmark corpus: storage-account JSON lines at a chosen size, made from the fixture generator's
// record writer. Many perimeters, profiles and resources; steady clients that repeat every
// 30-minute aggregation window; a long tail of one-off sources. Seeded: the same bytes every time.

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { rawRecord, seededRandom, type EstateEvent } from '../fixtures/generate.js';

const IN_BLOCK = 'NspPublicInboundResourceRulesAllowed';
const CATEGORIES = [IN_BLOCK, IN_BLOCK, IN_BLOCK, 'NspPublicOutboundResourceRulesAllowed', 'NspPublicInboundPerimeterRulesAllowed', 'NspPrivateInboundAllowed', 'NspPublicInboundResourceRulesDenied'];

/** Writes about `megabytes` MB of JSON lines to `path`. @returns records written */
export async function writeCorpus(path: string, megabytes: number, seed = 7): Promise<number> {
  const random = seededRandom(seed);
  const out = createWriteStream(path, { highWaterMark: 1 << 22 });
  const perimeters = Array.from({ length: 12 }, (_, i) => `/subscriptions/00000000-0000-0000-0000-${String(i).padStart(12, '0')}/resourceGroups/rg-${i}/providers/Microsoft.Network/networkSecurityPerimeters/nsp-${i}`);
  const resources = Array.from({ length: 240 }, (_, i) => `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-app${i % 12}/providers/Microsoft.Storage/storageAccounts/st${i}`);
  // Steady clients: a fixed address each, seen in every window on their resource.
  const steady = Array.from({ length: 4000 }, (_, i) => ({
    ip: `${[198, 203, 192, 20, 40, 52][i % 6]}.${(i * 7) % 250}.${(i * 13) % 250}.${i % 250}`,
    resource: resources[i % resources.length]!,
  }));
  const target = megabytes * 1024 * 1024;
  let bytes = 0;
  let records = 0;
  let window = 0;
  const start = Date.UTC(2026, 10, 2);
  let buffer: string[] = [];
  while (bytes < target) {
    const time = start + window * 1_800_000;
    for (let s = 0; s < steady.length && bytes < target; s += 1 + Math.floor(random() * 3)) {
      const client = steady[s]!;
      const one = random() < 0.25;
      const res = client.resource;
      const resIndex = resources.indexOf(res);
      const category = CATEGORIES[Math.floor(random() * CATEGORIES.length)]!;
      const event: EstateEvent = {
        time: time + Math.floor(random() * 1_800) * 1000,
        perimeter: perimeters[resIndex % perimeters.length]!,
        category,
        profile: `profile-${resIndex % 5}`,
        resource: res,
        operation: ['GetBlob', 'PutBlob', 'ListBlobs', 'GetBlobProperties'][Math.floor(random() * 4)]!,
        matchedRule: 'IP firewall',
        count: 1 + Math.floor(random() * 60),
      };
      event.endTime = event.time + Math.floor(random() * 1_700) * 1000;
      if (category.includes('Outbound')) event.destinationFqdn = `api${Math.floor(random() * 400)}.partner${resIndex % 30}.example`;
      else if (one) event.sourceIp = `${100 + Math.floor(random() * 100)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`;
      else event.sourceIp = client.ip;
      if (event.sourceIp) event.sourcePort = String(49152 + Math.floor(random() * 16000));
      const line = `${JSON.stringify(rawRecord(event, resIndex % 4 === 3))}\n`;
      buffer.push(line);
      bytes += Buffer.byteLength(line);
      records++;
      if (buffer.length >= 2000) {
        if (!out.write(buffer.join(''))) await once(out, 'drain');
        buffer = [];
      }
    }
    window++;
  }
  out.write(buffer.join(''));
  out.end();
  await once(out, 'finish');
  return records;
}
