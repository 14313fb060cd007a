// SPDX-License-Identifier: ISC
//
// lib.mjs: what the interop scripts share: argument parsing, the two cipher
// suites kpool speaks, hex, the one-line summary of a KeyPackage, and
// KeyPackage decoding and validation with ts-mls.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
	createCommit,
	createGroup,
	decodeMlsMessage,
	defaultCapabilities,
	encodeRequiredCapabilities,
	generateKeyPackage,
	getCiphersuiteFromName,
	getCiphersuiteImpl,
} from "ts-mls";
import {
	decodeKeyPackage,
	encodeKeyPackage,
	makeKeyPackageRef,
} from "ts-mls/keyPackage.js";

// ts-mls names cipher suites by their RFC 9420 names (§17.1).
export const SUITES = {
	1: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
	3: "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519",
};
const SUITE_IDS = Object.fromEntries(
    Object.entries(SUITES).map(([id, name]) => [name, Number(id)]));

// One GREASE value (RFC 9420 §13.5) for each capability list: what a
// greasing client such as ts-mls sends, fixed so a test is repeatable.
const GREASE = { suite: "2570", credential: "6682", extension: 0x2a2a,
    proposal: 0x3a3a };

const prog = process.argv[1].replace(/.*\//, "");

// die: report a rejection and exit 1.
export function die(msg) {
	process.stderr.write(`${prog}: ${msg}\n`);
	process.exit(1);
}

// usage: report a usage error and exit 2.
export function usage(text, msg) {
	if (msg)
		process.stderr.write(`${prog}: ${msg}\n`);
	process.stderr.write(`usage: ${prog} ${text}\n`);
	process.exit(2);
}

// args: parse argv by a node:util parseArgs spec, exit 2 on error.
export function args(text, options, allowPositionals = false) {
	try {
		return parseArgs({ options, allowPositionals, strict: true });
	} catch (e) {
		usage(text, e.message);
	}
}

// suiteArg: the cipher suite number from a --suite value (1 or 3).
export function suiteArg(text, s) {
	if (s === undefined)
		return 1;
	if (!(s in SUITES))
		usage(text, `unsupported suite ${s} (1 or 3)`);
	return Number(s);
}

// intArg: a non-negative integer option value.
export function intArg(text, name, s, dflt) {
	if (s === undefined)
		return dflt;
	if (!/^[0-9]+$/.test(s))
		usage(text, `--${name}: not a number: ${s}`);
	return Number(s);
}

// impl: the ts-mls implementation of suite n.
export function impl(n) {
	return getCiphersuiteImpl(getCiphersuiteFromName(SUITES[n]));
}

// suiteId: the number of a ts-mls suite name (undefined if not 1 or 3).
export function suiteId(name) {
	return SUITE_IDS[name];
}

export function hex(b) {
	return Buffer.from(b).toString("hex");
}

export function unhex(s) {
	if (!/^([0-9a-fA-F]{2})*$/.test(s))
		return undefined;
	return new Uint8Array(Buffer.from(s, "hex"));
}

// capabilities: what ts-mls announces by default (every suite it knows,
// basic and x509), with or without one GREASE value in each list.
export function capabilities(grease) {
	const c = defaultCapabilities();
	// defaultCapabilities() adds random GREASE values: drop them.
	const known = (v) => !/^[0-9]+$/.test(String(v));
	c.ciphersuites = c.ciphersuites.filter(known);
	c.credentials = c.credentials.filter(known);
	c.extensions = [];
	c.proposals = [];
	if (grease) {
		c.ciphersuites.push(GREASE.suite);
		c.credentials.push(GREASE.credential);
		c.extensions.push(GREASE.extension);
		c.proposals.push(GREASE.proposal);
	}
	return c;
}

// summary: the one line kptool validate prints for a KeyPackage.
export function summary(kp, ref) {
	const id = kp.leafNode.credential.credentialType === "basic" ?
	    Buffer.from(kp.leafNode.credential.identity).toString("utf8") : "";
	const lt = kp.leafNode.lifetime;
	return `ref=${hex(ref)} suite=${suiteId(kp.cipherSuite) ??
	    kp.cipherSuite} identity=${id} not_before=${lt.notBefore} ` +
	    `not_after=${lt.notAfter}`;
}

// readKeyPackage: decode the KeyPackage in a file, raw or (wrapped) as an
// MLSMessage.  Throws with the reason when the bytes are not exactly one
// KeyPackage that ts-mls re-encodes byte for byte.
export function readKeyPackage(file, wrapped = false) {
	const buf = new Uint8Array(readFileSync(file));
	let kp, end;
	if (wrapped) {
		const r = decodeMlsMessage(buf, 0);
		if (r === undefined)
			throw new Error("cannot decode the MLSMessage");
		if (r[0].wireformat !== "mls_key_package")
			throw new Error(`MLSMessage holds ${r[0].wireformat}`);
		[kp, end] = [r[0].keyPackage, r[1]];
	} else {
		const r = decodeKeyPackage(buf, 0);
		if (r === undefined)
			throw new Error("cannot decode the KeyPackage");
		[kp, end] = r;
	}
	if (end !== buf.length)
		throw new Error(`${buf.length - end} trailing bytes`);
	// An MLSMessage(KeyPackage) is version and wire_format, 2 bytes each,
	// then the KeyPackage.
	const raw = wrapped ? buf.subarray(4) : buf;
	if (Buffer.compare(encodeKeyPackage(kp), raw) !== 0)
		throw new Error("ts-mls re-encodes the KeyPackage differently");
	return kp;
}

// kpRef: the KeyPackageRef ts-mls computes (RFC 9420 §5.2).
export function kpRef(kp, cs) {
	return makeKeyPackageRef(kp, cs.hash);
}

// checkCapabilities: what RFC 9420 §10.1 and §7.2 ask of a KeyPackage and
// ts-mls 1.6.4 does not check when adding one: the leaf's capabilities
// list the protocol version, the suite and the credential type in use.
export function checkCapabilities(kp) {
	const caps = kp.leafNode.capabilities;
	if (!caps.versions.includes(kp.version))
		throw new Error("capabilities lack the version");
	if (!caps.ciphersuites.includes(kp.cipherSuite))
		throw new Error("capabilities lack the cipher suite");
	if (!caps.credentials.includes(kp.leafNode.credential.credentialType))
		throw new Error("capabilities lack the credential type");
}

// newMember: a fresh ts-mls member (a KeyPackage and its private keys)
// with a basic credential; the lifetime defaults to 28 days from now.
// extensions: more extension types (numbers) its capabilities list.
export function newMember(name, cs, grease = false, lifetime = undefined,
    extensions = []) {
	const cred = { credentialType: "basic",
	    identity: new TextEncoder().encode(name) };
	const caps = capabilities(grease);
	caps.extensions.push(...extensions);
	return generateKeyPackage(cred, caps, lifetime ?? lifetimeDays(28), [],
	    cs);
}

// lifetimeDays: a Lifetime from now for n days.
export function lifetimeDays(n) {
	const now = BigInt(Math.floor(Date.now() / 1000));
	return { notBefore: now, notAfter: now + BigInt(n) * 86400n };
}

// newGroup: a ts-mls group of one member, its creator, in suite cs.  With
// required ({ extensions: [numbers], credentials: ["basic", ...] }), the
// group's required_capabilities extension asks every member for them
// (RFC 9420 §11.1), its creator's capabilities listing them.
export async function newGroup(groupId, cs, required = undefined) {
	const creator = await newMember("ts-mls-creator", cs, false, undefined,
	    required?.extensions ?? []);
	const exts = required === undefined ? [] : [{
		extensionType: "required_capabilities",
		extensionData: encodeRequiredCapabilities({
			extensionTypes: required.extensions,
			proposalTypes: [],
			credentialTypes: required.credentials,
		}),
	}];
	const state = await createGroup(groupId, creator.publicPackage,
	    creator.privatePackage, exts, cs);
	return { creator, state };
}

// addMembers: commit Add proposals for KeyPackages kps, as ts-mls validates
// them (RFC 9420 §12.2: signatures, lifetime, keys); returns the
// createCommit result.  Throws when ts-mls rejects one.
export function addMembers(state, kps, cs, ratchetTree = false) {
	return createCommit({ state, cipherSuite: cs }, {
		extraProposals: kps.map((keyPackage) => ({
			proposalType: "add", add: { keyPackage } })),
		ratchetTreeExtension: ratchetTree,
	});
}
