/* SPDX-License-Identifier: ISC */
/* error.c: names of the KP_E* codes. */

#include "kpool.h"

static const struct {
	int		 code;
	const char	*name;
} names[] = {
	{ KP_OK,	"ok" },
	{ KP_ENOMEM,	"out of memory" },
	{ KP_EINVAL,	"invalid argument" },
	{ KP_EIO,	"I/O error" },
	{ KP_ECRYPTO,	"crypto failure" },
	{ KP_ENOTFOUND,	"not found" },
	{ KP_EEXIST,	"already exists" },
	{ KP_ETOOBIG,	"too big" },
	{ KP_EDB,	"database error" },
	{ KP_ESTATE,	"transition not allowed" },
	{ KP_EBUSY,	"in use" },
	{ KP_EPERM,	"not permitted" },
	{ KP_ETRUNC,	"truncated input" },
	{ KP_ETRAILING,	"trailing bytes" },
	{ KP_EVARINT,	"non-minimal or invalid varint" },
	{ KP_EVERSION,	"unsupported protocol version" },
	{ KP_ESUITE,	"unsupported cipher suite" },
	{ KP_EKPSIG,	"bad KeyPackage signature" },
	{ KP_ELEAFSIG,	"bad LeafNode signature" },
	{ KP_ESAMEKEY,	"init_key equals encryption_key" },
	{ KP_EEXPIRED,	"lifetime expired" },
	{ KP_ENOTYET,	"lifetime not yet valid" },
	{ KP_ECAPS,	"capabilities incomplete" },
	{ KP_ECRED,	"bad or unsupported credential" },
	{ KP_ELEAFSRC,	"leaf_node_source is not key_package" },
	{ KP_EMALFORMED, "malformed structure" },
	{ KP_EWIREFMT,	"wrong MLSMessage wire format" },
	{ KP_ENOTOURS,	"Welcome not addressed to this key" },
	{ KP_EDECRYPT,	"decryption failed" },
	{ KP_EGISIG,	"bad GroupInfo signature" },
	{ KP_ECONFIRM,	"bad confirmation tag" },
	{ KP_ELIFETIME,	"lifetime out of bounds" },
	{ KP_EPSK,	"Welcome needs a PSK" },
	{ KP_ETREE,	"ratchet tree does not match the GroupInfo" },
	{ KP_ENOTREE,	"Welcome has no ratchet tree" },
	{ KP_EPARENTHASH, "ratchet tree parent hash not valid" },
	{ KP_EPATHSECRET, "path_secret does not match the ratchet tree" },
	{ KP_ECREDTYPE,	"credential type not supported by every member" },
	{ KP_EWEAKKEY,	"X25519 public key of small order" },
	{ KP_ENOTRESERVED, "the server records no reservation or spend of "
	    "this key" },
	{ KP_EGROUP,	"the Welcome is for another group than the one this "
	    "key was reserved or spent for" },
	{ KP_ENET,	"server unreachable" },
	{ KP_EPROTO,	"unexpected server reply" },
	{ KP_EAUTH,	"signature refused" },
	{ KP_EFORBIDDEN, "forbidden" },
	{ KP_ECONFLICT,	"conflict" },
	{ KP_EEXHAUSTED, "pool exhausted" },
	{ KP_EGONE,	"reservation expired" },
	{ KP_ERATE,	"rate limited" },
	{ KP_EREJECTED,	"rejected by server" },
	{ KP_ESERVER,	"server error" },
	{ KP_ENOTENROLLED, "device not enrolled" },
	{ KP_ETLS,	"server certificate does not verify" },
};

const char *
kp_strerror(int code)
{
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	return "unknown error";
}
