#!/usr/bin/env node
// SPDX-License-Identifier: ISC
//
// make-welcome.mjs: a ts-mls member creates a group, optionally moves it on
// by --epochs empty Commits, and adds the KeyPackage in FILE (raw) in one
// Commit, with --others fresh ts-mls members beside it (ours goes second
// when there are others, so its EncryptedGroupSecrets is not the first).
// Writes the Welcome as an MLSMessage and prints
//	group_id=HEX epoch=N
// as ts-mls sees the group the new member joins.  The GroupInfo carries
// the ratchet_tree extension unless --no-ratchet-tree; --signer-pub-out
// writes the committer's (the GroupInfo signer's) Ed25519 public key.
// --external-psk ID:SECRET (hex) adds an external PSK proposal to the
// Commit, so the Welcome can be opened only with that PSK.  --tree-out
// writes the ratchet tree of the new epoch (optional<Node>
// ratchet_tree<V>), as a joiner given the tree beside the Welcome gets it.
// --with-path makes the Commit that adds the KeyPackage also remove a
// member added before, so that it carries a path and the Welcome a
// path_secret.
// --require-extensions T,... (hex types) and --require-credentials
// basic,x509 make the group's required_capabilities ask every member for
// them: ts-mls refuses to add a KeyPackage whose capabilities lack one.
// Bad twins, for the joiner to refuse: --break-signature signs the
// GroupInfo with a key other than the committer's leaf's;
// --break-parent-hash first commits a path over a group of four leaves,
// then flips a byte of a parent node's parent_hash in the committer's
// tree before the Commit that adds the KeyPackage, which ts-mls then
// hashes and signs as it is.

import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { bytesToBase64, createCommit, decodeMlsMessage, encodeMlsMessage,
    makePskIndex } from "ts-mls";
import { encodeRatchetTree } from "ts-mls/ratchetTree.js";
import { addMembers, args, hex, impl, intArg, kpRef, newGroup, newMember,
    readKeyPackage, suiteArg, suiteId, unhex, usage } from "./lib.mjs";

const USAGE = "[--suite 1|3] --kp FILE --welcome-out FILE [--group-id HEX] " +
    "[--signer-pub-out FILE] [--epochs N] [--others N] [--no-ratchet-tree] " +
    "[--external-psk ID:SECRET] [--tree-out FILE] [--with-path] " +
    "[--break-signature] [--break-parent-hash] " +
    "[--require-extensions T,...] [--require-credentials basic,x509]";
const { values: o } = args(USAGE, {
	suite: { type: "string" },
	kp: { type: "string" },
	"welcome-out": { type: "string" },
	"group-id": { type: "string" },
	"signer-pub-out": { type: "string" },
	epochs: { type: "string" },
	others: { type: "string" },
	"no-ratchet-tree": { type: "boolean" },
	"external-psk": { type: "string" },
	"tree-out": { type: "string" },
	"with-path": { type: "boolean" },
	"break-signature": { type: "boolean" },
	"break-parent-hash": { type: "boolean" },
	"require-extensions": { type: "string" },
	"require-credentials": { type: "string" },
});
if (o.kp === undefined || o["welcome-out"] === undefined)
	usage(USAGE, "--kp and --welcome-out are required");
const n = suiteArg(USAGE, o.suite);
const groupId = o["group-id"] === undefined ? new Uint8Array(randomBytes(16)) :
    unhex(o["group-id"]);
if (groupId === undefined || groupId.length === 0)
	usage(USAGE, "--group-id: not hex");
const epochs = intArg(USAGE, "epochs", o.epochs, 0);
const nothers = intArg(USAGE, "others", o.others, 0);
let psk;
if (o["external-psk"] !== undefined) {
	const [id, secret] = o["external-psk"].split(":").map(unhex);
	if (!id?.length || !secret?.length)
		usage(USAGE, "--external-psk: not ID:SECRET in hex");
	psk = { id, secret };
}
const cs = await impl(n);

let kp;
try {
	kp = readKeyPackage(o.kp);
} catch (e) {
	process.stderr.write(`make-welcome.mjs: ${o.kp}: ${e.message}\n`);
	process.exit(1);
}
if (suiteId(kp.cipherSuite) !== n) {
	process.stderr.write(`make-welcome.mjs: ${o.kp}: suite ` +
	    `${kp.cipherSuite}, not ${n}\n`);
	process.exit(1);
}

let required;
if (o["require-extensions"] !== undefined ||
    o["require-credentials"] !== undefined) {
	const exts = (o["require-extensions"] ?? "").split(",")
	    .filter((t) => t !== "").map((t) => Number.parseInt(t, 16));
	if (exts.some((t) => !(t > 0 && t <= 0xffff)))
		usage(USAGE, "--require-extensions: hex types, comma apart");
	required = { extensions: exts,
	    credentials: (o["require-credentials"] ?? "basic").split(",") };
}
let { creator, state } = await newGroup(groupId, cs, required);
if (o["break-parent-hash"]) {
	// two more members, then a path from the creator over the four
	// leaves: the parent above the creator holds the root's parent hash
	const two = [];
	for (let i = 0; i < 2; i++)
		two.push((await newMember(`ts-mls-early-${i}`, cs))
		    .publicPackage);
	state = (await addMembers(state, two, cs)).newState;
	state = (await createCommit({ state, cipherSuite: cs })).newState;
	const tree = [...state.ratchetTree];
	const p = tree[1];
	if (p?.nodeType !== "parent" || p.parent.parentHash.length === 0)
		throw new Error("no parent hash to break");
	const ph = new Uint8Array(p.parent.parentHash);
	ph[ph.length - 1] ^= 1;
	tree[1] = { nodeType: "parent", parent: { ...p.parent,
	    parentHash: ph } };
	state = { ...state, ratchetTree: tree };
}
for (let i = 0; i < epochs; i++)
	state = (await createCommit({ state, cipherSuite: cs })).newState;
const others = [];
for (let i = 0; i < nothers; i++)
	others.push((await newMember(`ts-mls-other-${i}`, cs)).publicPackage);
let leaver;
if (o["with-path"]) {
	// a member the next Commit removes, so that it needs a path
	const l = (await newMember("ts-mls-leaver", cs)).publicPackage;
	state = (await addMembers(state, [l], cs)).newState;
	leaver = state.ratchetTree.findIndex((n) => n?.nodeType === "leaf" &&
	    hex(n.leaf.signaturePublicKey) === hex(l.leafNode.signaturePublicKey));
}
const adds = [...others.slice(0, 1), kp, ...others.slice(1)];
const proposals = adds.map((keyPackage) => ({ proposalType: "add",
    add: { keyPackage } }));
if (leaver !== undefined)
	proposals.push({ proposalType: "remove",
	    remove: { removed: leaver / 2 } });
if (o["break-signature"]) {
	// the committer signs with another member's key than its leaf's
	const other = await newMember("ts-mls-forger", cs);
	state = { ...state,
	    signaturePrivateKey: other.privatePackage.signaturePrivateKey };
}
let pskIndex;
if (psk !== undefined) {
	pskIndex = makePskIndex(state, { [bytesToBase64(psk.id)]: psk.secret });
	proposals.push({ proposalType: "psk", psk: { preSharedKeyId: {
		psktype: "external", pskId: psk.id,
		pskNonce: cs.rng.randomBytes(cs.kdf.size) } } });
}
let r;
try {
	r = await createCommit({ state, cipherSuite: cs, pskIndex }, {
		extraProposals: proposals,
		ratchetTreeExtension: !o["no-ratchet-tree"],
	});
} catch (e) {
	process.stderr.write(`make-welcome.mjs: ts-mls refuses to add ` +
	    `${o.kp}: ${e.message}\n`);
	process.exit(1);
}

// The Welcome must round-trip through the ts-mls codec and name our ref.
const bytes = encodeMlsMessage({ version: "mls10", wireformat: "mls_welcome",
    welcome: r.welcome });
const back = decodeMlsMessage(bytes, 0);
const ref = hex(await kpRef(kp, cs));
if (back === undefined || back[1] !== bytes.length ||
    !back[0].welcome.secrets.some((s) => hex(s.newMember) === ref))
	throw new Error("the Welcome does not round-trip");
writeFileSync(o["welcome-out"], bytes);
if (o["tree-out"] !== undefined)
	writeFileSync(o["tree-out"], encodeRatchetTree(r.newState.ratchetTree));
if (o["signer-pub-out"] !== undefined)
	writeFileSync(o["signer-pub-out"],
	    creator.publicPackage.leafNode.signaturePublicKey);
const gc = r.newState.groupContext;
console.log(`group_id=${hex(gc.groupId)} epoch=${gc.epoch}`);
