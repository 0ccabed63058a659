/**
 * Verification throughput on 1 KiB bodies against a bare createHmac loop, measured in the same
 * run so the machine's speed cancels out. Target: the SDK reaches at least 0.8× the baseline.
 *
 *   node --import tsx bench/verify.ts
 */
import { createHmac } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { verifySignature } from '../src/receiver/index.ts';
import { fmt, median, summary } from './lib/harness.ts';

export const TARGET_RATIO = 0.8;

export interface VerifyBenchResult {
  opsPerSec: number;
  baselineOpsPerSec: number;
  ratio: number;
  pass: boolean;
  /** how many paired runs the medians are of */
  rounds: number;
}

export function benchVerify(options: { rounds?: number; roundMs?: number } = {}): VerifyBenchResult {
  const rounds = options.rounds ?? 21;
  const roundMs = options.roundMs ?? 100;
  const key = 'bench-signing-key-0123456789';
  // A realistic envelope padded to exactly 1 KiB, as raw bytes the way a server receives them.
  const head =
    '{"deviceId":"ffffffffceb0b1db0000018e937c815b","event":"sms:received","id":"Ey6ECgOkVVFjz3CL48B8C","payload":{"messageId":"abc123","message":"';
  const tail =
    '","phoneNumber":"6505551212","simNumber":1,"receivedAt":"2024-06-22T15:46:11.000+07:00"},"webhookId":"LreFUt-Z3sSq0JufY9uWB"}';
  const body = Buffer.from(head + 'x'.repeat(1024 - head.length - tail.length) + tail);
  if (body.length !== 1024) throw new Error(`bench body is ${body.length} bytes, expected 1024`);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', key).update(body).update(timestamp).digest('hex');

  // The baseline is what the seed's snippet does per request, minus its string concatenation.
  let sink = 0;
  const baseline = () => {
    const hex = createHmac('sha256', key).update(body).update(timestamp).digest('hex');
    sink += hex === signature ? 1 : 0;
  };
  let sdkCalls = 0;
  let sdkVerified = 0;
  const sdk = () => {
    sdkCalls++;
    if (verifySignature(key, body, timestamp, signature).ok) sdkVerified++;
  };

  const measure = (fn: () => void): number => {
    let ops = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(roundMs) * 1_000_000n;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 256; i++) fn();
      ops += 256;
      now = process.hrtime.bigint();
    }
    return ops / (Number(now - start) / 1e9);
  };

  // Warm both paths up, then measure in short alternating pairs: both halves of a pair see the
  // same machine load, so the median of the per-pair ratios is steadier than a ratio of totals.
  measure(baseline);
  measure(sdk);
  const pairs: { base: number; sdk: number; ratio: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which one goes first, so neither always runs on a warmer machine.
    let base: number;
    let mine: number;
    if (r % 2 === 0) {
      base = measure(baseline);
      mine = measure(sdk);
    } else {
      mine = measure(sdk);
      base = measure(baseline);
    }
    pairs.push({ base, sdk: mine, ratio: mine / base });
  }
  // A verifier that fails fast would look quick; every call must have verified.
  if (sdkVerified !== sdkCalls || sink === 0)
    throw new Error(`only ${sdkVerified} of ${sdkCalls} verified: the benchmark is broken`);

  const opsPerSec = median(pairs.map((p) => p.sdk));
  const baselineOpsPerSec = median(pairs.map((p) => p.base));
  const ratio = median(pairs.map((p) => p.ratio));
  return { opsPerSec, baselineOpsPerSec, ratio, pass: ratio >= TARGET_RATIO, rounds };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = benchVerify();
  summary({
    name: 'verify',
    figure: `${fmt(result.opsPerSec)} verifications/s of 1 KiB bodies (verifySignature)`,
    baseline: `${fmt(result.baselineOpsPerSec)}/s (bare createHmac + hex compare, same body)`,
    ratio: result.ratio,
    target: `>= ${TARGET_RATIO}x (median of ${result.rounds} paired runs)`,
    pass: result.pass,
  });
}
