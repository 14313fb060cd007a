#!/usr/bin/env node
// SPDX-License-Identifier: ISC
//
// dump-kp.mjs: a diagnostic, not a test.  Walks a raw KeyPackage field by
// field (RFC 9420 §10, §7.2, MLS varints §2.1.2) with its own small
// reader, independent of ts-mls, and prints one line per field:
//	OFFSET LENGTH FIELD VALUE
// so a disagreement between kpool and ts-mls can be named by byte and
// field.  Exit 1 where the bytes stop making sense, naming the place.

import { readFileSync } from "node:fs";

const file = process.argv[2];
if (file === undefined || process.argv.length !== 3) {
	process.stderr.write("usage: dump-kp.mjs FILE\n");
	process.exit(2);
}
const b = new Uint8Array(readFileSync(file));
let p = 0;

function need(n, what) {
	if (p + n > b.length)
		throw new Error(`${what}: needs ${n} bytes at ${p}, ` +
		    `${b.length - p} left`);
}
function show(at, what, value) {
	console.log(`${String(at).padStart(5)} ${String(p - at).padStart(4)} ` +
	    `${what} ${value}`);
}
function uint(n, what) {
	need(n, what);
	let v = 0n;
	for (let i = 0; i < n; i++)
		v = (v << 8n) | BigInt(b[p++]);
	return v;
}
function varint(what) {
	need(1, what);
	const prefix = b[p] >> 6;
	if (prefix === 3)
		throw new Error(`${what}: bad varint prefix at ${p}`);
	const n = 1 << prefix;
	const at = p;
	let v = uint(n, what) & ((1n << BigInt(8 * n - 2)) - 1n);
	const min = [0n, 64n, 16384n][prefix];
	if (v < min)
		throw new Error(`${what}: non-minimal varint at ${at}`);
	return Number(v);
}
function field(n, what, fmt = (v) => v) {
	const at = p;
	const v = uint(n, what);
	show(at, what, fmt(v));
	return v;
}
function opaque(what, fmt = (x) => Buffer.from(x).toString("hex")) {
	const at = p;
	const n = varint(what);
	need(n, what);
	const v = b.subarray(p, p + n);
	p += n;
	show(at, `${what}[${n}]`, fmt(v));
	return v;
}
function vector(what, item) {
	const at = p;
	const n = varint(what);
	need(n, what);
	const end = p + n;
	show(at, `${what}<${n}>`, "");
	let i = 0;
	while (p < end)
		item(`${what}.${i++}`);
	if (p !== end)
		throw new Error(`${what}: items overrun the vector by ${p - end}`);
}
const u16 = (what) => field(2, what, (v) => `0x${v.toString(16).padStart(4,
    "0")}`);
const ext = (what) => { u16(`${what}.type`); opaque(`${what}.data`); };

try {
	u16("version");
	u16("cipher_suite");
	opaque("init_key");
	opaque("leaf.encryption_key");
	opaque("leaf.signature_key");
	const ct = u16("leaf.credential.type");
	if (ct === 1n)
		opaque("leaf.credential.identity",
		    (x) => JSON.stringify(Buffer.from(x).toString("utf8")));
	else
		throw new Error(`credential type ${ct}: only basic is walked`);
	vector("leaf.capabilities.versions", u16);
	vector("leaf.capabilities.cipher_suites", u16);
	vector("leaf.capabilities.extensions", u16);
	vector("leaf.capabilities.proposals", u16);
	vector("leaf.capabilities.credentials", u16);
	const src = field(1, "leaf.leaf_node_source");
	if (src !== 1n)
		throw new Error(`leaf_node_source ${src}, not key_package (1)`);
	field(8, "leaf.lifetime.not_before");
	field(8, "leaf.lifetime.not_after");
	vector("leaf.extensions", ext);
	opaque("leaf.signature");
	vector("extensions", ext);
	opaque("signature");
	if (p !== b.length)
		throw new Error(`${b.length - p} trailing bytes at ${p}`);
} catch (e) {
	process.stderr.write(`dump-kp.mjs: ${file}: ${e.message}\n`);
	process.exit(1);
}
