#!/usr/bin/env node
// SPDX-License-Identifier: ISC
//
// validate-kp.mjs: ts-mls validates KeyPackages as it does when a member
// adds them to a group.  Each FILE holds one raw KeyPackage (an MLSMessage
// with --wrapped).  ts-mls decodes it (nothing may trail, and it must
// re-encode to the same bytes), the script checks the capabilities that
// ts-mls leaves unchecked, and then a throwaway ts-mls group of the same
// suite commits an Add of it: there ts-mls checks the suite and version,
// both signatures, the lifetime against the clock, init_key against the
// encryption key, and key uniqueness.
//
// For each accepted FILE prints the line kptool validate prints:
//	ref=HEX suite=N identity=NAME not_before=UNIX not_after=UNIX
// with the ref ts-mls computes.  A rejected FILE gets "FILE: reason" on
// stderr; the exit status is then 1.

import { addMembers, args, checkCapabilities, die, hex, impl, kpRef,
    newGroup, readKeyPackage, suiteId, summary, usage } from "./lib.mjs";

const USAGE = "[--wrapped] FILE...";
const { values: o, positionals: files } = args(USAGE, {
	wrapped: { type: "boolean" },
}, true);
if (files.length === 0)
	usage(USAGE, "no FILE");

const groups = {};	// suite number -> { cs, state }, made on first use

async function validate(file) {
	const kp = readKeyPackage(file, o.wrapped);
	const n = suiteId(kp.cipherSuite);
	if (n === undefined)
		throw new Error(`unsupported cipher suite ${kp.cipherSuite}`);
	if (kp.leafNode.credential.credentialType !== "basic")
		throw new Error("credential is not basic");
	checkCapabilities(kp);
	if (groups[n] === undefined) {
		const cs = await impl(n);
		const g = await newGroup(new TextEncoder().encode("validate-kp"),
		    cs);
		groups[n] = { cs, state: g.state };
	}
	const { cs, state } = groups[n];
	const ref = await kpRef(kp, cs);
	const r = await addMembers(state, [kp], cs);
	// The Welcome names the new member by the same ref.
	const named = r.welcome.secrets.map((s) => hex(s.newMember));
	if (named.length !== 1 || named[0] !== hex(ref))
		throw new Error("the Welcome names another ref");
	return summary(kp, ref);
}

let bad = 0;
for (const f of files) {
	try {
		console.log(await validate(f));
	} catch (e) {
		process.stderr.write(`${f}: ${e.message}\n`);
		bad++;
	}
}
if (bad > 0)
	die(`${bad} of ${files.length} rejected`);
