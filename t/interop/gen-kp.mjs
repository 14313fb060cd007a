#!/usr/bin/env node
// SPDX-License-Identifier: ISC
//
// gen-kp.mjs: ts-mls makes a KeyPackage with a basic credential and writes
// it raw (RFC 9420 §10), or wrapped in an MLSMessage with --wrapped.
// Prints the line kptool validate prints:
//	ref=HEX suite=N identity=NAME not_before=UNIX not_after=UNIX
// with the KeyPackageRef ts-mls computes.

import { writeFileSync } from "node:fs";
import { encodeMlsMessage } from "ts-mls";
import { encodeKeyPackage } from "ts-mls/keyPackage.js";
import { args, impl, intArg, kpRef, lifetimeDays, newMember, suiteArg,
    summary, usage } from "./lib.mjs";

const USAGE = "[--suite 1|3] --identity NAME --out FILE " +
    "[--init-priv-out FILE] [--sign-pub-out FILE] [--lifetime-days N] " +
    "[--grease] [--wrapped]";
const { values: o } = args(USAGE, {
	suite: { type: "string" },
	identity: { type: "string" },
	out: { type: "string" },
	"init-priv-out": { type: "string" },
	"sign-pub-out": { type: "string" },
	"lifetime-days": { type: "string" },
	grease: { type: "boolean" },
	wrapped: { type: "boolean" },
});
if (o.identity === undefined || o.out === undefined)
	usage(USAGE, "--identity and --out are required");
const cs = await impl(suiteArg(USAGE, o.suite));
const days = intArg(USAGE, "lifetime-days", o["lifetime-days"], 28);

const m = await newMember(o.identity, cs, o.grease, lifetimeDays(days));
const kp = m.publicPackage;
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
