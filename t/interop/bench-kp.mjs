#!/usr/bin/env node
// SPDX-License-Identifier: ISC
//
// bench-kp.mjs: how many KeyPackages ts-mls generates and validates per
// second, one at a time (run it on one core: bench/run-interop.sh pins it).
//	generate: generateKeyPackage (2 X25519 key pairs, 1 Ed25519 key
//	          pair, 2 signatures) and the encoding to bytes
//	validate: decode the bytes, verify both signatures (KeyPackageTBS,
//	          LeafNodeTBS), compute the KeyPackageRef: what an upload costs
// Prints, for --seconds S each (default 2):
//	ts-mls: generate N/s
//	ts-mls: validate N/s

import { verifyLeafNodeSignatureKeyPackage } from "ts-mls/leafNode.js";
import { decodeKeyPackage, encodeKeyPackage,
    verifyKeyPackage } from "ts-mls/keyPackage.js";
import { args, impl, intArg, kpRef, newMember, suiteArg } from "./lib.mjs";

const USAGE = "[--suite 1|3] [--seconds S]";
const { values: o } = args(USAGE, {
	suite: { type: "string" },
	seconds: { type: "string" },
});
const cs = await impl(suiteArg(USAGE, o.suite));
const ms = intArg(USAGE, "seconds", o.seconds, 2) * 1000;

// rate: run op until ms have passed (after a short warm-up); ops per second.
async function rate(op) {
	for (let i = 0; i < 50; i++)
		await op(i);
	const t0 = performance.now();
	let n = 0, t;
	do {
		await op(n++);
	} while ((t = performance.now() - t0) < ms);
	return Math.round(n * 1000 / t);
}

const kps = [];
const gen = await rate(async () => {
	const m = await newMember("bench", cs);
	const b = encodeKeyPackage(m.publicPackage);
	if (kps.length < 256)
		kps.push(b);
});
console.log(`ts-mls: generate ${gen}/s`);

const val = await rate(async (i) => {
	const r = decodeKeyPackage(kps[i % kps.length], 0);
	if (r === undefined || r[1] !== kps[i % kps.length].length)
		throw new Error("decode");
	const kp = r[0];
	if (!await verifyLeafNodeSignatureKeyPackage(kp.leafNode, cs.signature) ||
	    !await verifyKeyPackage(kp, cs.signature))
		throw new Error("verify");
	await kpRef(kp, cs);
});
console.log(`ts-mls: validate ${val}/s`);
