#!/usr/bin/env node
// SPDX-License-Identifier: ISC
//
// open-welcome.mjs: ts-mls opens a Welcome (MLSMessage) addressed to the
// raw KeyPackage in --kp, the twin of kptool open-welcome: it finds the
// EncryptedGroupSecrets named by the KeyPackage's ref, decrypts it with the
// raw X25519 init private key (DecryptWithLabel "Welcome"), decrypts the
// GroupInfo, verifies its signature (with --signer-pub, else the signer's
// key from the ratchet_tree extension) and its confirmation tag, and
// prints
//	group_id=HEX epoch=N
// Exit 1 when the Welcome does not open.

import { readFileSync } from "node:fs";
import { decodeMlsMessage } from "ts-mls";
import { ratchetTreeFromExtension, verifyGroupInfoConfirmationTag,
    verifyGroupInfoSignature } from "ts-mls/groupInfo.js";
import { decryptGroupInfo, decryptGroupSecrets } from "ts-mls/welcome.js";
import { args, die, hex, impl, kpRef, readKeyPackage, suiteId,
    usage } from "./lib.mjs";

const USAGE = "--welcome FILE --kp FILE --init-priv FILE [--signer-pub FILE]";
const { values: o } = args(USAGE, {
	welcome: { type: "string" },
	kp: { type: "string" },
	"init-priv": { type: "string" },
	"signer-pub": { type: "string" },
});
if (o.welcome === undefined || o.kp === undefined ||
    o["init-priv"] === undefined)
	usage(USAGE, "--welcome, --kp and --init-priv are required");

async function open() {
	const kp = readKeyPackage(o.kp);
	const n = suiteId(kp.cipherSuite);
	if (n === undefined)
		throw new Error(`unsupported cipher suite ${kp.cipherSuite}`);
	const cs = await impl(n);
	const buf = new Uint8Array(readFileSync(o.welcome));
	const m = decodeMlsMessage(buf, 0);
	if (m === undefined || m[1] !== buf.length)
		throw new Error("cannot decode the MLSMessage");
	if (m[0].wireformat !== "mls_welcome")
		throw new Error(`MLSMessage holds ${m[0].wireformat}`);
	const w = m[0].welcome;
	if (w.cipherSuite !== kp.cipherSuite)
		throw new Error("the Welcome's suite is not the KeyPackage's");
	const priv = await cs.hpke.importPrivateKey(
	    new Uint8Array(readFileSync(o["init-priv"])));
	const gs = await decryptGroupSecrets(priv, await kpRef(kp, cs), w,
	    cs.hpke);
	if (gs === undefined)
		throw new Error("cannot decode the GroupSecrets");
	if (gs.psks.length !== 0)
		throw new Error("the Welcome needs PSKs");
	const psk = new Uint8Array(cs.kdf.size);
	const gi = await decryptGroupInfo(w, gs.joinerSecret, psk, cs);
	if (gi === undefined)
		throw new Error("cannot decode the GroupInfo");
	let pub;
	if (o["signer-pub"] !== undefined) {
		pub = new Uint8Array(readFileSync(o["signer-pub"]));
	} else {
		const tree = ratchetTreeFromExtension(gi);
		const leaf = tree?.[2 * gi.signer];
		if (leaf?.nodeType !== "leaf")
			throw new Error("no signer key: no --signer-pub and " +
			    "no ratchet_tree");
		pub = leaf.leaf.signaturePublicKey;
	}
	if (!await verifyGroupInfoSignature(gi, pub, cs.signature))
		throw new Error("bad GroupInfo signature");
	if (!await verifyGroupInfoConfirmationTag(gi, gs.joinerSecret, psk,
	    cs))
		throw new Error("bad GroupInfo confirmation tag");
	if (suiteId(gi.groupContext.cipherSuite) !== n)
		throw new Error("the GroupInfo's suite is not the KeyPackage's");
	return `group_id=${hex(gi.groupContext.groupId)} ` +
	    `epoch=${gi.groupContext.epoch}`;
}

try {
	console.log(await open());
} catch (e) {
	die(e.message);
}
