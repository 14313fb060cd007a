#!/usr/bin/env node
// SPDX-License-Identifier: ISC
//
// gen-kp.mjs: ts-mls makes a KeyPackage with a basic credential and writes
// it raw (RFC 9420 §10), or wrapped in an MLSMessage with --wrapped.
// Prints the line kptool validate prints:
//	ref=HEX suite=N identity=NAME not_before=UNIX not_after=UNIX
// with the KeyPackageRef ts-mls computes.
//
// Bad twins made by ts-mls's encoder: --same-keys uses the init key as
// the LeafNode's encryption key too, --bad-leaf-sig flips a bit of the
// LeafNode signature; the KeyPackage is signed again over either, so only
// that one fault is in it.
// --not-before and --not-after (unix seconds) set the lifetime outright.
// --kp-ext TYPE[:HEX] adds an extension to the KeyPackage, --leaf-ext
// TYPE[:HEX] one to its LeafNode (both repeatable; TYPE in decimal or
// 0x hex).  Types other than the RFC 9420 default ones (1 to 5) are
// listed in the capabilities, unless --unlisted.

import { writeFileSync } from "node:fs";
import { encodeMlsMessage } from "ts-mls";
import { encodeKeyPackage, signKeyPackage } from "ts-mls/keyPackage.js";
import { signLeafNodeKeyPackage } from "ts-mls/leafNode.js";
import { defaultExtensionTypes, generateKeyPackage } from "ts-mls";
import { args, capabilities, impl, intArg, kpRef, lifetimeDays, suiteArg,
    summary, unhex, usage } from "./lib.mjs";

const USAGE = "[--suite 1|3] --identity NAME --out FILE " +
    "[--init-priv-out FILE] [--sign-pub-out FILE] [--lifetime-days N] " +
    "[--not-before UNIX] [--not-after UNIX] " +
    "[--grease] [--wrapped] [--kp-ext TYPE[:HEX]]... " +
    "[--leaf-ext TYPE[:HEX]]... [--unlisted] [--same-keys] [--bad-leaf-sig]";
const { values: o } = args(USAGE, {
	suite: { type: "string" },
	identity: { type: "string" },
	out: { type: "string" },
	"init-priv-out": { type: "string" },
	"sign-pub-out": { type: "string" },
	"lifetime-days": { type: "string" },
	"not-before": { type: "string" },
	"not-after": { type: "string" },
	grease: { type: "boolean" },
	wrapped: { type: "boolean" },
	"kp-ext": { type: "string", multiple: true },
	"leaf-ext": { type: "string", multiple: true },
	unlisted: { type: "boolean" },
	"same-keys": { type: "boolean" },
	"bad-leaf-sig": { type: "boolean" },
});
if (o.identity === undefined || o.out === undefined)
	usage(USAGE, "--identity and --out are required");
const cs = await impl(suiteArg(USAGE, o.suite));
const lifetime = lifetimeDays(intArg(USAGE, "lifetime-days",
    o["lifetime-days"], 28));
for (const k of ["not-before", "not-after"]) {
	if (o[k] === undefined)
		continue;
	if (!/^[0-9]{1,20}$/.test(o[k]) || BigInt(o[k]) >= 1n << 64n)
		usage(USAGE, `--${k}: not a uint64: ${o[k]}`);
	lifetime[k === "not-before" ? "notBefore" : "notAfter"] = BigInt(o[k]);
}

const defaults = Object.fromEntries(
    Object.entries(defaultExtensionTypes).map(([k, v]) => [v, k]));
const caps = capabilities(o.grease);

// ext: a ts-mls Extension from TYPE[:HEX]; ts-mls names the default types.
function ext(spec) {
	const m = /^(0x[0-9a-fA-F]{1,4}|[0-9]{1,5})(?::([0-9a-fA-F]*))?$/
	    .exec(spec);
	const type = m && Number(m[1]);
	const data = m && unhex(m[2] ?? "");
	if (!m || type > 0xffff || data === undefined)
		usage(USAGE, `bad extension ${spec}`);
	if (defaults[type] !== undefined)
		return { extensionType: defaults[type], extensionData: data };
	if (!o.unlisted && !caps.extensions.includes(type))
		caps.extensions.push(type);
	return { extensionType: type, extensionData: data };
}
const kpExts = (o["kp-ext"] ?? []).map(ext);
const leafExts = (o["leaf-ext"] ?? []).map(ext);
const cred = { credentialType: "basic",
    identity: new TextEncoder().encode(o.identity) };
const m = await generateKeyPackage(cred, caps, lifetime, kpExts, cs,
    leafExts);
let kp = m.publicPackage;
if (o["same-keys"] || o["bad-leaf-sig"]) {
	const sk = m.privatePackage.signaturePrivateKey;
	let leaf = kp.leafNode;
	if (o["same-keys"])
		leaf = await signLeafNodeKeyPackage({ ...leaf,
		    hpkePublicKey: kp.initKey }, sk, cs.signature);
	if (o["bad-leaf-sig"]) {
		const sig = new Uint8Array(leaf.signature);
		sig[0] ^= 1;
		leaf = { ...leaf, signature: sig };
	}
	kp = await signKeyPackage({ ...kp, leafNode: leaf }, sk, cs.signature);
}
const bytes = o.wrapped ?
    encodeMlsMessage({ version: "mls10", wireformat: "mls_key_package",
	keyPackage: kp }) :
    encodeKeyPackage(kp);
writeFileSync(o.out, bytes);
if (o["init-priv-out"] !== undefined)
	writeFileSync(o["init-priv-out"], m.privatePackage.initPrivateKey,
	    { mode: 0o600 });
if (o["sign-pub-out"] !== undefined)
	writeFileSync(o["sign-pub-out"], kp.leafNode.signaturePublicKey);
console.log(summary(kp, await kpRef(kp, cs)));
