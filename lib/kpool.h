/* SPDX-License-Identifier: ISC */
/*
 * kpool.h: the one public header of libkpool.
 *
 * libkpool keeps a pool of MLS (RFC 9420) KeyPackages for one user: it
 * generates them with their private keys, stores them, publishes the
 * public halves to a kpool-server and tracks each through its life.
 *
 * Conventions: every function that can fail returns KP_OK (0) or a
 * negative KP_E* code; kp_strerror() names a code.  Handles that carry
 * state keep the detail of their last error: kp_errmsg() of a pool
 * tells of the last call the calling thread made on it,
 * kp_client_errmsg() of a client (used by one thread) of its last.  The
 * library never prints and never exits.  Memory a function returns
 * through an out parameter belongs to the caller and is released with
 * the free function named in its comment.  Private keys handed to the
 * caller are the caller's to wipe (sodium_memzero) after use.
 */
#ifndef KPOOL_H
#define KPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KP_WUR	__attribute__((warn_unused_result))

/* ------------------------------------------------------------------ */
/* Errors.  Codes are stable; new ones are added at the end of a range. */

#define KP_OK		0

enum kp_error {
	/* general, -1 .. -29 */
	KP_ENOMEM = -1,		/* out of memory */
	KP_EINVAL = -2,		/* bad argument or bad syntax */
	KP_EIO = -3,		/* file or system I/O error */
	KP_ECRYPTO = -4,	/* a crypto primitive failed */
	KP_ENOTFOUND = -5,	/* no such key, user or object */
	KP_EEXIST = -6,		/* already exists */
	KP_ETOOBIG = -7,	/* a size over its limit */
	KP_EDB = -8,		/* database error */
	KP_ESTATE = -9,		/* transition not allowed from this state */
	KP_EBUSY = -10,		/* in use (reserved, held by someone else) */
	KP_EPERM = -11,		/* not allowed */

	/* MLS decoding and validation, -30 .. -69 */
	KP_ETRUNC = -30,	/* input ends inside a field */
	KP_ETRAILING = -31,	/* bytes after the end of the struct */
	KP_EVARINT = -32,	/* varint not minimal or uses the 8-byte form */
	KP_EVERSION = -33,	/* protocol version is not mls10 */
	KP_ESUITE = -34,	/* cipher suite not supported */
	KP_EKPSIG = -35,	/* KeyPackage signature does not verify */
	KP_ELEAFSIG = -36,	/* LeafNode signature does not verify */
	KP_ESAMEKEY = -37,	/* init_key equals encryption_key */
	KP_EEXPIRED = -38,	/* lifetime not_after is in the past */
	KP_ENOTYET = -39,	/* lifetime not_before is in the future */
	KP_ECAPS = -40,		/* capabilities miss the suite, version,
				   credential or an extension in use */
	KP_ECRED = -41,		/* credential malformed or unsupported */
	KP_ELEAFSRC = -42,	/* leaf_node_source is not key_package */
	KP_EMALFORMED = -43,	/* structurally invalid (bad enum, key size,
				   duplicate entries, bad optional flag) */
	KP_EWIREFMT = -44,	/* MLSMessage of the wrong wire format */
	KP_ENOTOURS = -45,	/* a Welcome has no secrets for this key */
	KP_EDECRYPT = -46,	/* AEAD or HPKE open failed */
	KP_EGISIG = -47,	/* GroupInfo signature does not verify */
	KP_ECONFIRM = -48,	/* GroupInfo confirmation_tag mismatch */
	KP_ELIFETIME = -49,	/* lifetime inverted or longer than allowed */
	KP_EPSK = -50,		/* Welcome needs a PSK we do not have */
	KP_ETREE = -51,		/* ratchet tree does not hash to the
				   GroupInfo's tree_hash, lacks our leaf,
				   holds a public key twice or a bad
				   unmerged leaf */
	KP_ENOTREE = -52,	/* a Welcome with no ratchet tree, neither
				   in its GroupInfo nor given */
	KP_EPARENTHASH = -53,	/* a parent node of the ratchet tree is
				   not parent-hash valid (§7.9.2) */
	KP_EPATHSECRET = -54,	/* the Welcome's path_secret does not give
				   the tree's public keys */
	KP_ECREDTYPE = -55,	/* a member's credential type is not
				   supported by every member */
	KP_EWEAKKEY = -56,	/* an X25519 public key of small order */
	KP_ENOTRESERVED = -57,	/* the server records no reservation or
				   spend of the Welcome's key */
	KP_EGROUP = -58,	/* a Welcome (or spend) for another group
				   than the key was reserved or spent for */

	/* server and network, -70 .. -99 */
	KP_ENET = -70,		/* server unreachable or timed out */
	KP_EPROTO = -71,	/* server answered something unexpected */
	KP_EAUTH = -72,		/* 401: signature refused */
	KP_EFORBIDDEN = -73,	/* 403: not yours */
	KP_ECONFLICT = -74,	/* 409: taken, already spent, ... */
	KP_EEXHAUSTED = -75,	/* 409 pool_exhausted */
	KP_EGONE = -76,		/* 410: reservation expired */
	KP_ERATE = -77,		/* 429: rate limited */
	KP_EREJECTED = -78,	/* 400 or upload rejected the key */
	KP_ESERVER = -79,	/* 5xx */
	KP_ENOTENROLLED = -80,	/* 403 enrollment_required: the device is
				   not enrolled yet */
	KP_ETLS = -81,		/* the server's TLS certificate does not
				   verify (kp_pool_set_cafile) */
};

/*
 * kp_strerror: a short, static, human name for a KP_E* code (or "ok").
 */
const char *kp_strerror(int code);

/* ------------------------------------------------------------------ */
/* MLS constants (RFC 9420). */

#define KP_SUITE_X25519_AES128GCM	0x0001	/* default */
#define KP_SUITE_X25519_CHACHA20	0x0003

#define KP_CRED_BASIC		0x0001
#define KP_CRED_X509		0x0002

#define KP_EXT_APPLICATION_ID	0x0001
#define KP_EXT_RATCHET_TREE	0x0002
#define KP_EXT_REQUIRED_CAPS	0x0003
#define KP_EXT_EXTERNAL_PUB	0x0004
#define KP_EXT_EXTERNAL_SENDERS	0x0005
#define KP_EXT_LAST_RESORT	0x000a	/* RFC 9420 §17.3 registry */

#define KP_REF_LEN		32	/* KeyPackageRef, SHA-256 */
#define KP_KEY_LEN		32	/* X25519 private or public key */
#define KP_SIGN_PK_LEN		32	/* Ed25519 public key */
#define KP_SIGN_SEED_LEN	32	/* Ed25519 seed (private) */
#define KP_MAX_KEYPACKAGE	65536	/* cap on an encoded KeyPackage */
#define KP_MAX_IDENTITY		255	/* cap on a basic credential identity */
#define KP_MAX_CAPS		64	/* types a capabilities list holds */

/* ------------------------------------------------------------------ */
/* KeyPackages (lib/keypackage.c). */

struct kp_keypackage;	/* a decoded KeyPackage, opaque */

/*
 * What goes into a new KeyPackage.  Zeroed fields take defaults: suite
 * KP_SUITE_X25519_AES128GCM; capabilities list the suite, version mls10
 * and the basic credential; no extensions; not_before = now - 1 h and
 * not_after = not_before + 14 days + 1 h when both are 0.
 */
struct kp_kpopts {
	uint16_t	 suite;
	const uint8_t	*identity;	/* basic credential identity */
	size_t		 identity_len;
	uint64_t	 not_before;	/* unix seconds */
	uint64_t	 not_after;
	/*
	 * capabilities; NULL/0 = defaults (suite, mls10, basic).  The
	 * default extension (1..5) and proposal (1..7) types are implied
	 * and must not be listed (RFC 9420 §7.2).
	 */
	const uint16_t	*cap_credentials;
	size_t		 ncap_credentials;
	const uint16_t	*cap_extensions;
	size_t		 ncap_extensions;
	const uint16_t	*cap_proposals;
	size_t		 ncap_proposals;
	int		 last_resort;	/* add the last_resort extension */
};

/*
 * Secrets of a generated KeyPackage.  The caller wipes them with
 * sodium_memzero() when done.
 */
struct kp_kpsecrets {
	uint8_t	init_priv[KP_KEY_LEN];		/* X25519, for init_key */
	uint8_t	encryption_priv[KP_KEY_LEN];	/* X25519, leaf encryption */
};

/*
 * kp_kpopts_check: whether kp_keypackage_generate would take opts.
 * KP_OK, or KP_EINVAL (bad identity, a capabilities list too long or
 * NULL with a count, a type listed twice or the reserved 0, a
 * credential list without basic, or a default extension or proposal
 * type listed, which RFC 9420 §7.2 forbids), KP_ESUITE or KP_ELIFETIME;
 * *why (when why is not NULL) then points at a static sentence saying
 * which.
 */
int kp_kpopts_check(const struct kp_kpopts *opts, const char **why) KP_WUR;

/*
 * kp_keypackage_generate: make a KeyPackage signed by the Ed25519 key
 * whose 32-byte seed is sign_seed.  On success *out (malloc'd, caller
 * frees) holds the encoded KeyPackage (not MLSMessage-wrapped), *outlen
 * its length, ref its KeyPackageRef and sec the two private keys.
 * Options kp_kpopts_check() refuses fail with its code.
 */
int kp_keypackage_generate(const struct kp_kpopts *opts,
    const uint8_t sign_seed[KP_SIGN_SEED_LEN], uint8_t **out, size_t *outlen,
    uint8_t ref[KP_REF_LEN], struct kp_kpsecrets *sec) KP_WUR;

/*
 * kp_keypackage_decode: parse an encoded KeyPackage (buf, len), exactly
 * one struct with nothing trailing.  Checks the structure, not the
 * signatures or the lifetime (see kp_keypackage_validate).  With
 * allow_mlsmessage set, an MLSMessage(KeyPackage) wrapper is accepted
 * too.  *out is freed with kp_keypackage_free().
 */
int kp_keypackage_decode(const uint8_t *buf, size_t len, int allow_mlsmessage,
    struct kp_keypackage **out) KP_WUR;

/*
 * kp_keypackage_validate: RFC 9420 §10.1 and §7.3 checks at time now
 * (unix seconds): version, suite, leaf_node_source, both signatures,
 * lifetime, capabilities (suite, version, credential type, every
 * extension in use), init_key != encryption_key, credential.
 */
int kp_keypackage_validate(const struct kp_keypackage *kp,
    uint64_t now) KP_WUR;

/* kp_keypackage_free: release a decoded KeyPackage; NULL is fine. */
void kp_keypackage_free(struct kp_keypackage *kp);

/*
 * Accessors of a decoded KeyPackage.  Pointers returned point into kp
 * and live as long as it does.
 */
/* kp_keypackage_bytes: the raw KeyPackage (unwrapped) and its length. */
const uint8_t	*kp_keypackage_bytes(const struct kp_keypackage *kp,
		    size_t *len);
/* kp_keypackage_ref: its KeyPackageRef, KP_REF_LEN bytes. */
const uint8_t	*kp_keypackage_ref(const struct kp_keypackage *kp);
/* kp_keypackage_suite: its cipher suite. */
uint16_t	 kp_keypackage_suite(const struct kp_keypackage *kp);
/* kp_keypackage_credential_type: KP_CRED_BASIC or KP_CRED_X509. */
uint16_t	 kp_keypackage_credential_type(const struct kp_keypackage *kp);
/* kp_keypackage_identity: the basic credential's identity. */
const uint8_t	*kp_keypackage_identity(const struct kp_keypackage *kp,
		    size_t *len);
/* kp_keypackage_init_key: the HPKE init_key. */
const uint8_t	*kp_keypackage_init_key(const struct kp_keypackage *kp,
		    size_t *len);
/* kp_keypackage_encryption_key: the LeafNode's encryption_key. */
const uint8_t	*kp_keypackage_encryption_key(const struct kp_keypackage *kp,
		    size_t *len);
/* kp_keypackage_signature_key: the LeafNode's signature_key. */
const uint8_t	*kp_keypackage_signature_key(const struct kp_keypackage *kp,
		    size_t *len);
/* kp_keypackage_not_before: the lifetime's start, unix seconds. */
uint64_t	 kp_keypackage_not_before(const struct kp_keypackage *kp);
/* kp_keypackage_not_after: the lifetime's end, unix seconds. */
uint64_t	 kp_keypackage_not_after(const struct kp_keypackage *kp);
/* kp_keypackage_has_extension: 1 when its own extensions hold type. */
int		 kp_keypackage_has_extension(const struct kp_keypackage *kp,
		    uint16_t type);

/*
 * kp_keypackage_ref_compute: KeyPackageRef of an encoded KeyPackage,
 * RefHash("MLS 1.0 KeyPackage Reference", buf) with the suite's hash.
 */
int kp_keypackage_ref_compute(uint16_t suite, const uint8_t *buf, size_t len,
    uint8_t ref[KP_REF_LEN]) KP_WUR;

/*
 * kp_credential_hash: SHA-256 over the encoded Credential of kp, used to
 * group keys by credential in the stores.
 */
void kp_credential_hash(const struct kp_keypackage *kp, uint8_t out[32]);

/* ------------------------------------------------------------------ */
/* Welcome (lib/welcome.c). */

struct kp_welcome_info {
	uint8_t		*group_id;	/* malloc'd, caller frees */
	size_t		 group_id_len;
	uint64_t	 epoch;
	uint16_t	 suite;
	int		 signature_checked; /* GroupInfo signature verified:
					       always 1 on success */
	uint8_t		 epoch_authenticator[32];
	int		 tree_checked;	/* ratchet tree checked: always 1
					   on success */
};

/*
 * kp_welcome_refs: list the KeyPackageRefs a Welcome (MLSMessage) has
 * secrets for.  *refs is malloc'd (n * KP_REF_LEN bytes), caller frees.
 */
int kp_welcome_refs(const uint8_t *welcome, size_t len, uint8_t **refs,
    size_t *n) KP_WUR;

/*
 * kp_welcome_split: buf starts with an MLSMessage(Welcome), self-
 * delimiting, of *wlen bytes; what follows it, if anything, is a
 * serialized ratchet tree (a vector) of *treelen bytes (0: none).
 * KP_ETRUNC while either is incomplete, KP_ETRAILING for bytes after
 * the tree.  Neither is decoded further.
 */
int kp_welcome_split(const uint8_t *buf, size_t len, size_t *wlen,
    size_t *treelen) KP_WUR;

/* kp_welcome_open flags */
#define KP_WELCOME_ANY_LIFETIME	0x01	/* accept tree leaves whose lifetime
					   does not cover now */

/*
 * kp_welcome_open: open a Welcome (MLSMessage) addressed to the
 * KeyPackage kp (encoded) with its init private key, as a joiner does
 * (RFC 9420 §12.4.3.1): decrypt the GroupSecrets and the GroupInfo,
 * take the ratchet tree from the GroupInfo's ratchet_tree extension or
 * else from tree (a serialized optional<Node> ratchet_tree<V>, NULL when
 * none; KP_ENOTREE without either) and check it: its hash is the
 * GroupInfo's tree_hash and it holds our LeafNode and no public key
 * twice (KP_ETREE), every parent is parent-hash valid (KP_EPARENTHASH),
 * every leaf passes §7.3 (KP_ELEAFSIG, KP_ECAPS, KP_ECREDTYPE, and
 * KP_EEXPIRED or KP_ENOTYET unless flags has KP_WELCOME_ANY_LIFETIME).
 * Then the GroupInfo signature verifies with the signer's leaf
 * (KP_EGISIG), a path_secret gives the public keys of the common
 * ancestor and above (KP_EPATHSECRET), and the confirmation tag
 * matches (KP_ECONFIRM).  PSKs are not supported (KP_EPSK).  On success
 * fills *info; release it with kp_welcome_info_free().
 */
int kp_welcome_open(const uint8_t *welcome, size_t len, const uint8_t *kp,
    size_t kplen, const uint8_t init_priv[KP_KEY_LEN], const uint8_t *tree,
    size_t treelen, int flags, struct kp_welcome_info *info) KP_WUR;

/* kp_welcome_info_free: release what kp_welcome_open filled in. */
void kp_welcome_info_free(struct kp_welcome_info *info);

/* ------------------------------------------------------------------ */
/* Encodings shared by the programs (lib/util.c). */

/* kp_hex: lowercase hex of len bytes into out (2*len+1 bytes). */
void kp_hex(const uint8_t *buf, size_t len, char *out);
/* kp_unhex: parse exactly outlen bytes of hex; KP_EINVAL on bad input. */
int kp_unhex(const char *hex, uint8_t *out, size_t outlen) KP_WUR;
/*
 * kp_clock_file: the unix time in field 0 or 1 (numbers apart by white
 * space) of a test-clock file at path, read afresh on each call; the
 * real time when path is NULL or the file or field cannot be read.
 */
int64_t kp_clock_file(const char *path, int field);

struct sqlite3;
/*
 * kp_sqlite_migrate (lib/sqlite.c): bring db's schema to version nsteps: run steps[i]
 * for every i from PRAGMA user_version up, then set it to nsteps, in
 * the caller's transaction when one is open, else in one of its own.
 * KP_OK, or KP_EDB with the reason in err (a schema newer than nsteps,
 * or SQLite's message); a transaction of its own is rolled back.
 */
int kp_sqlite_migrate(struct sqlite3 *db, const char *const *steps,
    size_t nsteps, char *err, size_t errlen) KP_WUR;

/* ------------------------------------------------------------------ */
/* HTTP client of kpool-server (lib/client.c, lib/httpsig.c). */

#define KP_MAX_USERNAME		64	/* bytes of a user name */
#define KP_MAX_GROUP_ID		255	/* bytes of an MLS group_id */
#define KP_MAX_BATCH		256	/* KeyPackages in one upload */

/*
 * kp_username_valid: 1 when name is a user name (1 to KP_MAX_USERNAME
 * bytes of A-Z a-z 0-9, and . _ - @ after the first), else 0.
 */
int kp_username_valid(const char *name);

#define KP_MAX_DEVICE		32	/* bytes of a device name */
#define KP_MAX_PRINCIPAL	(KP_MAX_USERNAME + 1 + KP_MAX_DEVICE)
#define KP_DEFAULT_DEVICE	"default"

/*
 * kp_devicename_valid: 1 when name is a device name (1 to KP_MAX_DEVICE
 * bytes of a-z 0-9, and . _ - after the first), else 0.
 */
int kp_devicename_valid(const char *name);

/*
 * kp_principal: the name of one device of a user, as credentials,
 * signatures and the server give it: "user" for the device "default"
 * (device NULL means it too), "user/device" for any other.  KP_OK, or
 * KP_EINVAL for an invalid name or a buf shorter than the principal
 * (KP_MAX_PRINCIPAL + 1 always suffices).
 */
int kp_principal(const char *user, const char *device, char *buf,
    size_t len) KP_WUR;

/*
 * kp_principal_parse: split principal s into user and device
 * ("default" when s names no device; "alice/default" is accepted).
 * KP_OK, or KP_EINVAL when either part is not a valid name.
 */
int kp_principal_parse(const char *s, char user[KP_MAX_USERNAME + 1],
    char device[KP_MAX_DEVICE + 1]) KP_WUR;

struct kp_client;	/* one device's signed connection to a server, opaque */

/*
 * kp_client_new: a client for the server at url (http://host:port) that
 * signs every request as principal (a user name, or "user/device") with
 * the Ed25519 key of seed.  Free with kp_client_free().  Not
 * thread-safe: one client per thread.
 */
int kp_client_new(const char *url, const char *principal,
    const uint8_t seed[KP_SIGN_SEED_LEN], struct kp_client **out) KP_WUR;
/* kp_client_free: close the connection; NULL is fine. */
void kp_client_free(struct kp_client *c);
/* kp_client_errmsg: detail of the client's last error (server message). */
const char *kp_client_errmsg(const struct kp_client *c);
/* kp_client_set_timeouts: connect and total timeouts in milliseconds. */
void kp_client_set_timeouts(struct kp_client *c, long connect_ms,
    long total_ms);
/*
 * kp_client_set_retry: a request whose repeat the server answers as the
 * first (reads, uploads, reserve and claim, spend and release) is sent
 * at most attempts times (1: never again), again only after no reply, a
 * 502, 503 or 504 or a replayed signature's 401, with an exponential
 * backoff with jitter (a 503's Retry-After honoured), and not once
 * deadline_ms have passed since the first.  Defaults: the two below.
 */
#define KP_RETRY_ATTEMPTS	4
#define KP_RETRY_DEADLINE_MS	3000
void kp_client_set_retry(struct kp_client *c, int attempts,
    int deadline_ms);
/* kp_client_last_status: HTTP status of the last request, 0 if none. */
long kp_client_last_status(const struct kp_client *c);
/* kp_client_error_code: the server's error code of the last request
 * ("enrollment_required", ...); "" when none. */
const char *kp_client_error_code(const struct kp_client *c);

/*
 * kp_client_register: POST /users, our user, device and public key;
 * KP_ECONFLICT when the name or key is taken, KP_ENOTENROLLED when the
 * user exists and this device is not enrolled yet.
 */
int kp_client_register(struct kp_client *c) KP_WUR;
/*
 * kp_client_register_invited: kp_client_register with the token of an
 * invitation (`kpool-server invite create`), which a server run with
 * --registration invite asks for; NULL: none.  KP_EFORBIDDEN when the
 * server wants one (invite_required) or does not take this one
 * (bad_invite: unknown, or used up).
 */
int kp_client_register_invited(struct kp_client *c, const char *invite)
    KP_WUR;

struct kp_upload_result {
	uint8_t	ref[KP_REF_LEN];	/* server-derived, when accepted */
	int	accepted;
	int	error;			/* KP_E* when rejected */
	char	code[32];		/* server error code */
	char	message[160];		/* server message */
};

/*
 * kp_client_upload: POST /keypackages/upload of n (<= KP_MAX_BATCH)
 * encoded KeyPackages; res[i] tells what became of kps[i].
 */
int kp_client_upload(struct kp_client *c, const uint8_t *const *kps,
    const size_t *lens, size_t n, struct kp_upload_result *res) KP_WUR;

struct kp_reservation {
	uint8_t		 ref[KP_REF_LEN];
	uint8_t		*keypackage;	/* malloc'd */
	size_t		 keypackage_len;
	char		 reservation_id[65];
	int64_t		 expires_at;
	int		 last_resort;
	char		 device[KP_MAX_DEVICE + 1];	/* whose key; "" when
							   the server did
							   not say */
	uint16_t	 cipher_suite;	/* 0 when the server did not say */
};

/* What a reserve or a claim asks for; zeroed fields are not sent. */
struct kp_reserve_opts {
	const char	*target_device;	/* one device of the target (reserve) */
	uint16_t	 cipher_suite;	/* only keys of this suite */
	const uint8_t	*group_id;
	size_t		 group_id_len;
	const char	*request_id;	/* retries; NULL: a random one */
	const uint8_t	*ref;		/* one key, its owner only (reserve) */
};

/*
 * kp_client_reserve: POST /keypackages/reserve of one key of target as
 * o says (NULL: any key, no group).  request_id makes retries
 * idempotent.  Release *out with kp_reservation_free().
 */
int kp_client_reserve(struct kp_client *c, const char *target,
    const struct kp_reserve_opts *o, struct kp_reservation *out) KP_WUR;
/* kp_reservation_free: release what kp_client_reserve filled in. */
void kp_reservation_free(struct kp_reservation *r);
/* What a claim handed out: one reservation per device that had a key. */
struct kp_claim {
	struct kp_reservation	*keys;		/* malloc'd, n of them */
	size_t			 n;
	char			(*exhausted)[KP_MAX_DEVICE + 1]; /* malloc'd */
	size_t			 nexhausted;	/* devices with no key */
};

/*
 * kp_client_claim: POST /keypackages/claim: one key of each device of
 * target, as o says (its group_id, request_id and cipher_suite;
 * target_device and ref must be unset).  KP_EEXHAUSTED when no device
 * had one (out still lists them).  Release *out with kp_claim_free().
 */
int kp_client_claim(struct kp_client *c, const char *target,
    const struct kp_reserve_opts *o, struct kp_claim *out) KP_WUR;
/* kp_claim_free: release what kp_client_claim filled in. */
void kp_claim_free(struct kp_claim *cl);

/* One device of a user, as GET /devices lists it. */
struct kp_device {
	char		name[KP_MAX_DEVICE + 1];
	uint8_t		public_key[KP_SIGN_PK_LEN];
	int64_t		enrolled_at;
	uint32_t	available, reserved, spent, expired, last_resort;
};

/*
 * kp_client_enroll: POST /devices: enroll the device name of our user
 * with its Ed25519 public key pub.  KP_ECONFLICT when the name or the
 * key is another device's.
 */
int kp_client_enroll(struct kp_client *c, const char *device,
    const uint8_t pub[KP_SIGN_PK_LEN]) KP_WUR;
/*
 * kp_client_remove_device: DELETE /devices/{device}: remove one device
 * of our user, its keys retired; *retired (when not NULL) gets how many.
 * KP_ENOTFOUND, or KP_ECONFLICT for the user's last device.
 */
int kp_client_remove_device(struct kp_client *c, const char *device,
    uint32_t *retired) KP_WUR;
/*
 * kp_client_devices: GET /devices: our user's devices, in name order,
 * into *list (malloc'd, caller frees) and *n.
 */
int kp_client_devices(struct kp_client *c, struct kp_device **list,
    size_t *n) KP_WUR;

/* kp_client_spend: POST /keypackages/spend of ref for group_id. */
int kp_client_spend(struct kp_client *c, const uint8_t ref[KP_REF_LEN],
    const uint8_t *group_id, size_t group_id_len) KP_WUR;
/* kp_client_release: POST /keypackages/release of ref. */
int kp_client_release(struct kp_client *c,
    const uint8_t ref[KP_REF_LEN]) KP_WUR;
/* kp_client_retire: DELETE /keypackages/{ref}. */
int kp_client_retire(struct kp_client *c,
    const uint8_t ref[KP_REF_LEN]) KP_WUR;

struct kp_remote_status {
	uint32_t available, reserved, spent, expired, last_resort;
	int	 counts;	/* 1: the counts above came (our own user) */
	int	 has_keys;	/* a key is available (any user) */
};
/*
 * kp_client_status: GET /keypackages/status/{user}: the counts for our
 * own user; for another user the server tells only whether it has a
 * key to hand out (counts 0, has_keys).
 */
int kp_client_status(struct kp_client *c, const char *user,
    struct kp_remote_status *out) KP_WUR;

/* Key states, in the local store and on the server. */
enum kp_state {
	KP_STATE_CREATED = 0,
	KP_STATE_AVAILABLE,
	KP_STATE_RESERVED,
	KP_STATE_SPENT,
	KP_STATE_EXPIRED,
};
#define KP_NSTATES	5
/* kp_state_name: "created", ...; NULL for a bad state. */
const char *kp_state_name(int state);
/* kp_state_from_name: the state called name, or -1. */
int kp_state_from_name(const char *name);

struct kp_remote_key {
	uint8_t	ref[KP_REF_LEN];
	int	state;			/* KP_STATE_* */
	int	last_resort;
	int64_t	uploaded_at, not_after, reserved_at, reservation_expires_at,
		spent_at;
	char	reserved_by[KP_MAX_PRINCIPAL + 1];	/* principals */
	char	spent_by[KP_MAX_PRINCIPAL + 1];
	uint8_t	group_id[KP_MAX_GROUP_ID];
	size_t	group_id_len;
};
/* kp_client_mine: GET /keypackages/mine; *keys malloc'd, caller frees. */
int kp_client_mine(struct kp_client *c, struct kp_remote_key **keys,
    size_t *n) KP_WUR;
/*
 * kp_client_mine_one: GET /keypackages/mine/{ref}: the server's record of
 * one of our keys into *out; KP_ENOTFOUND when it has none.
 */
int kp_client_mine_one(struct kp_client *c, const uint8_t ref[KP_REF_LEN],
    struct kp_remote_key *out) KP_WUR;

/* ------------------------------------------------------------------ */
/* The local pool (lib/store.c, lib/policy.c, lib/sync.c). */

#define KP_MAX_SUITES	2	/* suites a pool keeps (0x0001, 0x0003) */

struct kp_policy {
	uint32_t target;		/* 32, per suite */
	uint32_t low_watermark;		/* 8: replenish when available < it */
	uint32_t hard_cap;		/* 64 on created + available */
	int64_t	 lifetime;		/* 14 days, seconds */
	int64_t	 refresh_interval;	/* 30 s */
	int	 last_resort;		/* one last-resort key a suite: 1 */
	/* the suites kept, each at target: { KP_SUITE_X25519_AES128GCM } */
	uint16_t suites[KP_MAX_SUITES];
	uint32_t nsuites;
	/*
	 * The capabilities of new keys (RFC 9420 §7.2), beyond what is
	 * implied: credential types (0: basic alone; else basic must be
	 * among them), extension and proposal types (no default ones).
	 */
	uint16_t credentials[KP_MAX_CAPS];
	uint32_t ncredentials;
	uint16_t extensions[KP_MAX_CAPS];
	uint32_t nextensions;
	uint16_t proposals[KP_MAX_CAPS];
	uint32_t nproposals;
};

/* kp_policy_default: fill p with the defaults above. */
void kp_policy_default(struct kp_policy *p);

struct kp_counts {
	uint32_t n[KP_NSTATES];		/* per KP_STATE_* */
	uint32_t total;			/* sum of n[] */
	uint32_t last_resort;		/* last-resort keys among them */
};

/* kp_policy_should_replenish: 1 when available < low watermark. */
int kp_policy_should_replenish(const struct kp_policy *p,
    const struct kp_counts *c);
/*
 * kp_policy_needed: how many keys to generate so that available +
 * reserved reaches target, never past hard_cap on created + available.
 */
uint32_t kp_policy_needed(const struct kp_policy *p,
    const struct kp_counts *c);

/*
 * One key's public record, opaque: no private key, a copy taken when it
 * was read (it does not follow later changes).  Read it with the
 * accessors below; pointers they return live as long as the record.
 */
struct kp_key;

/* kp_key_free: release a record; NULL is fine. */
void kp_key_free(struct kp_key *k);
/*
 * kp_keys_free: release the n records of keys and the array; NULL
 * entries (records the caller kept) are skipped.
 */
void kp_keys_free(struct kp_key **keys, size_t n);
/* kp_key_ref: the KeyPackageRef, KP_REF_LEN bytes. */
const uint8_t *kp_key_ref(const struct kp_key *k);
/* kp_key_ref_hex: the KeyPackageRef in lowercase hex. */
const char *kp_key_ref_hex(const struct kp_key *k);
/* kp_key_state: the KP_STATE_* of the key. */
int kp_key_state(const struct kp_key *k);
/* kp_key_suite: the cipher suite. */
uint16_t kp_key_suite(const struct kp_key *k);
/* kp_key_last_resort: 1 for a last-resort key, else 0. */
int kp_key_last_resort(const struct kp_key *k);
/* kp_key_has_private: 1 while its private keys are in the store. */
int kp_key_has_private(const struct kp_key *k);
/* kp_key_keypackage_len: bytes of the encoded KeyPackage. */
size_t kp_key_keypackage_len(const struct kp_key *k);

/* The times of a key (kp_key_time). */
enum kp_key_time {
	KP_T_CREATED,
	KP_T_UPLOADED,
	KP_T_RESERVED,
	KP_T_RESERVATION_EXPIRES,
	KP_T_SPENT,
	KP_T_EXPIRED,
	KP_T_NOT_BEFORE,
	KP_T_NOT_AFTER,
	KP_T_CHANGED,		/* the last transition */
};
/* kp_key_time: a KP_T_* time of the key, unix seconds; 0 when unset. */
int64_t kp_key_time(const struct kp_key *k, int which);
/*
 * kp_key_time_ns: the same in nanoseconds since the epoch: KP_T_CREATED
 * and KP_T_CHANGED with the store's sub-second part (keys made or moved
 * in one second by one handle are apart, in order; keys of a store
 * made before it have whole seconds), the others whole seconds.
 */
int64_t kp_key_time_ns(const struct kp_key *k, int which);

/* The texts of a key (kp_key_text). */
enum kp_key_text {
	KP_X_RESERVATION_ID,
	KP_X_RESERVED_BY,
	KP_X_SPENT_BY,
};
/* kp_key_text: a KP_X_* text of the key; "" when unset. */
const char *kp_key_text(const struct kp_key *k, int which);
/* kp_key_group_id: the group it was spent in (*len 0: none known). */
const uint8_t *kp_key_group_id(const struct kp_key *k, size_t *len);
/* kp_key_epoch: the epoch of its opened Welcome; -1 when none was. */
int64_t kp_key_epoch(const struct kp_key *k);
/* kp_key_credential_hash: SHA-256 of its Credential, 32 bytes. */
const uint8_t *kp_key_credential_hash(const struct kp_key *k);

struct kp_pool;		/* one device's local pool, opaque */

/*
 * kp_pool_open: open (creating on first use) the store at dbpath (mode
 * 0600, WAL) of one device of user, with the at-rest key in keyfile
 * (created 0600 on first use; NULL means dbpath with ".key" appended).
 * A new store gets a fresh Ed25519 identity.  user may be NULL to open
 * an existing store as whoever owns it; device NULL means the store's
 * device, or KP_DEFAULT_DEVICE for a new store.  A store opened with
 * another user or device than its own is KP_EINVAL ("the store belongs
 * to device X").  A store made before devices migrates in place: it is
 * the device "default", its keys kept.  Close with kp_pool_close().  On
 * failure *out may still hold a handle for kp_errmsg(): close it too.
 *
 * A handle may be used by several threads at once: local work (reads,
 * generation, local moves, Welcomes) goes on while another thread talks
 * to the server, and conversations with the server take turns, so a
 * view pulled before a transition is never applied after it.  Several
 * handles, in one process or several, may share one store.
 */
int kp_pool_open(const char *dbpath, const char *keyfile, const char *user,
    const char *device, struct kp_pool **out) KP_WUR;
/* kp_pool_close: close the store and wipe the identity; NULL is fine.
 * No other thread may be using p. */
void kp_pool_close(struct kp_pool *p);
/*
 * kp_errmsg: the detail of the last kp_pool_* call this thread made on
 * p; never a secret, empty after a call that succeeded with nothing to
 * report.  Other threads' calls on p do not change it.  The string
 * lasts until this thread's next call on p.
 */
const char *kp_errmsg(const struct kp_pool *p);
#define KP_MAX_ERRCODE	63	/* bytes of a server's error code kept */
/*
 * kp_errcode: the server's error code ("pool_exhausted", "conflict",
 * ...) behind the last kp_pool_* call this thread made on p, "" when
 * the call got none (it succeeded, failed locally, or the server was
 * not reached); as long-lived as kp_errmsg's string.
 */
const char *kp_errcode(const struct kp_pool *p);
/* kp_pool_user: the user name the store belongs to. */
const char *kp_pool_user(const struct kp_pool *p);
/* kp_pool_device: the name of the store's device. */
const char *kp_pool_device(const struct kp_pool *p);
/*
 * kp_pool_principal: the device's principal (kp_principal): the
 * identity of its keys' credential and the keyid of its requests.
 */
const char *kp_pool_principal(const struct kp_pool *p);
/* kp_pool_identity: the device's Ed25519 public key. */
void kp_pool_identity(const struct kp_pool *p, uint8_t pub[KP_SIGN_PK_LEN]);
/* kp_pool_set_server: talk to url from now on; NULL means offline. */
int kp_pool_set_server(struct kp_pool *p, const char *url) KP_WUR;
#define KP_MAX_URL	1024	/* bytes of a server URL a store keeps */
/*
 * kp_default_store (lib/remember.c): the path of the user's store,
 * $XDG_DATA_HOME/kpool/pool.db (an absolute XDG_DATA_HOME), else
 * $HOME/.local/share/kpool/pool.db, into buf (len bytes).
 * KP_ENOTFOUND when neither is set, KP_ETOOBIG when it does not fit.
 */
int kp_default_store(char *buf, size_t len) KP_WUR;
/*
 * kp_pool_remember_server (lib/remember.c): keep url (http:// or
 * https://, at most KP_MAX_URL bytes) in the store as its server, for
 * the programs that open it later; it does not set the server of p
 * (kp_pool_set_server does).  kp_pool_remembered_server: the URL kept
 * into buf ("" when none; KP_ETOOBIG when len is too small).
 */
int kp_pool_remember_server(struct kp_pool *p, const char *url) KP_WUR;
int kp_pool_remembered_server(struct kp_pool *p, char *buf,
    size_t len) KP_WUR;
/*
 * kp_pool_client: a new client (kp_client_free()) of the server set on
 * p, signing as the store's device, for calls the pool does not make
 * (the inviter's reserve, claim, spend and release).  KP_ENET when no
 * server is set.  Not shared with p: one thread uses it.
 */
int kp_pool_client(struct kp_pool *p, struct kp_client **out) KP_WUR;
/*
 * kp_pool_set_cafile (lib/remote.c): check an https:// server's
 * certificate against the CAs of the PEM file path (absolute) instead
 * of the system's; NULL: the system's again.  The store keeps it, for
 * the programs that open it later, and every client of p uses it
 * (kp_pool_client's too).  KP_EINVAL for a relative path, KP_EIO when
 * the file does not read.  A certificate that does not verify fails a
 * call with KP_ETLS.
 */
int kp_pool_set_cafile(struct kp_pool *p, const char *path) KP_WUR;
/*
 * kp_pool_set_invite (lib/remote.c): the invitation token p's
 * registration sends (kp_client_register_invited), kept in memory only
 * (a token is used once) and wiped once the user is registered or p is
 * closed; NULL: none.  KP_EINVAL for a token longer than
 * KP_MAX_INVITE bytes or not base64url.
 */
#define KP_MAX_INVITE	64
int kp_pool_set_invite(struct kp_pool *p, const char *token) KP_WUR;
/* kp_pool_set_clock: a clock for tests (NULL: the real one); set it
 * before other threads use p. */
void kp_pool_set_clock(struct kp_pool *p, int64_t (*now)(void *),
    void *arg);
/* kp_pool_now: the pool's idea of now, unix seconds. */
int64_t kp_pool_now(const struct kp_pool *p);

/*
 * kp_pool_set_observer: fn(arg, ref, from, to) hears of every key that a
 * call through p changed, once per key, after the call's changes are
 * committed (or journaled, kp_pool_set_batching): from -1 for a new
 * key, to -1 for a deleted one, from == to for a change that kept the
 * state (reservation details, spent_by learnt later, a wipe of private
 * keys).  ref NULL (from and to -1) says that
 * another connection changed the store, so any key may have changed
 * (noticed by kp_pool_expire, kp_pool_sync and kp_pool_refresh).  fn
 * runs in the thread that made the change, with no lock of p held, and
 * must not call back into p; the calls of two threads may reach it in
 * either order.  fn NULL: nobody hears.
 */
void kp_pool_set_observer(struct kp_pool *p,
    void (*fn)(void *arg, const uint8_t *ref, int from, int to), void *arg);
/* A change a watcher hears of (kp_pool_set_watcher). */
struct kp_change_info {
	const uint8_t	*ref;		/* NULL: any key may have changed */
	int		 from, to;	/* as the observer's */
	const char	*by;		/* who holds it now, as the key's
					   reserved_by or spent_by: the
					   principal that reserved or spent
					   it; "" when not known */
};
/*
 * kp_pool_set_watcher: fn(arg, c) hears of the same changes as the
 * observer (kp_pool_set_observer, whose rules it follows), in the same
 * order, with who made each; c and its strings last for the call.
 * Both may be set; fn NULL: nobody hears.
 */
void kp_pool_set_watcher(struct kp_pool *p,
    void (*fn)(void *arg, const struct kp_change_info *c), void *arg);

/*
 * kp_pool_set_batching: with on, p batches its local moves (the
 * kp_pool_transition of created -> expired): each is recorded before it
 * returns in a journal beside the store, which outlives the process (a
 * later open of the store applies it), and committed to the store with
 * the handle's next call that writes (kp_pool_expire, for one) or its
 * close; till then other connections see the key where it was and wait
 * to write.  For a handle whose owner makes such a call soon after each
 * move (kpoolfs: within a second).  KP_EBUSY when another live handle
 * batches on the store.  Off (the default) commits what is batched.
 */
int kp_pool_set_batching(struct kp_pool *p, int on) KP_WUR;

/* kp_pool_policy_get: the stored policy, defaults where unset. */
int kp_pool_policy_get(struct kp_pool *p, struct kp_policy *out) KP_WUR;
/* kp_pool_policy_set: store a policy; KP_EINVAL if inconsistent (the
 * reason in kp_errmsg). */
int kp_pool_policy_set(struct kp_pool *p, const struct kp_policy *in) KP_WUR;
/*
 * kp_pool_config_set: set one "key = value" setting (see kpool(7)):
 * target, low_watermark, hard_cap, lifetime, refresh_interval,
 * last_resort, suites (suite, the old name, takes one), credentials,
 * extensions, proposals.  KP_EINVAL with the reason in kp_errmsg when
 * the value or the policy it makes is bad.
 */
int kp_pool_config_set(struct kp_pool *p, const char *key,
    const char *value) KP_WUR;
/* kp_pool_config_text: the settings as "key = value\n" lines, malloc'd. */
int kp_pool_config_text(struct kp_pool *p, char **text) KP_WUR;

/* kp_pool_counts: keys of suite (0: every suite) per state, last-resort
 * keys included. */
int kp_pool_counts(struct kp_pool *p, uint16_t suite,
    struct kp_counts *out) KP_WUR;
/*
 * kp_pool_list: the keys in state (-1: all), oldest first, into *keys
 * (an array of *n records); release with kp_keys_free(*keys, *n).  A
 * caller may keep (*keys)[i] by setting it to NULL; kp_key_free() it
 * later.
 */
int kp_pool_list(struct kp_pool *p, int state, struct kp_key ***keys,
    size_t *n) KP_WUR;
/* kp_pool_key: one key into *out (kp_key_free()); KP_ENOTFOUND when
 * missing. */
int kp_pool_key(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    struct kp_key **out) KP_WUR;
/* kp_pool_keypackage: the encoded KeyPackage; free(*buf). */
int kp_pool_keypackage(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    uint8_t **buf, size_t *len) KP_WUR;

/*
 * kp_pool_generate: make n keys in state created, in one transaction;
 * KP_ETOOBIG when created + available would pass the hard cap.
 */
int kp_pool_generate(struct kp_pool *p, uint32_t n, int last_resort) KP_WUR;
/*
 * kp_pool_transition: move a key from one state to another, asking the
 * server first (see kpool(7) for the table).  KP_ESTATE when the key is
 * not in from or the move is forbidden, KP_ENET when the server is
 * unreachable, and the server's refusal as its KP_E* code.
 */
int kp_pool_transition(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    int from, int to) KP_WUR;
/* kp_pool_delete: delete a created, spent or expired key and wipe its
 * private keys; KP_EBUSY for available or reserved ones. */
int kp_pool_delete(struct kp_pool *p, const uint8_t ref[KP_REF_LEN]) KP_WUR;

struct kp_sync_report {
	uint32_t expired;	/* moved to expired */
	uint32_t pulled;	/* changed by the server's view */
	uint32_t generated;
	uint32_t uploaded;
	int	 online;	/* the server answered */
	uint32_t retired;	/* retired on the server (rotate) */
};
/* kp_pool_expire: move keys past not_after to expired, wipe them. */
int kp_pool_expire(struct kp_pool *p, struct kp_sync_report *r) KP_WUR;
/* kp_pool_sync: pull the server's view of our keys, push created ones. */
int kp_pool_sync(struct kp_pool *p, struct kp_sync_report *r) KP_WUR;
/* kp_pool_refresh modes */
#define KP_REFRESH_WATERMARK	0	/* replenish a suite whose available
					   keys fell under the low watermark */
#define KP_REFRESH_TARGET	1	/* top every suite up to target */

/*
 * kp_pool_refresh: expire, sync, replenish each suite to target as mode
 * says, and keep one last-resort key a suite published.  Idempotent; a
 * failure leaves the store consistent.
 */
int kp_pool_refresh(struct kp_pool *p, int mode,
    struct kp_sync_report *r) KP_WUR;
/*
 * kp_pool_rotate: retire every available key of this device on the
 * server (it keeps tombstones), expire them here (their private keys
 * wiped), make fresh keys to target from the current policy and upload
 * them.  Reserved keys finish their course.  r->retired counts the
 * retired keys.
 */
int kp_pool_rotate(struct kp_pool *p, struct kp_sync_report *r) KP_WUR;

/*
 * kp_pool_enroll: enroll another device of our user on the server, by
 * name, with its Ed25519 public key pub (its identity file).
 */
int kp_pool_enroll(struct kp_pool *p, const char *device,
    const uint8_t pub[KP_SIGN_PK_LEN]) KP_WUR;
/*
 * kp_pool_remove_device: remove a device of our user on the server (its
 * keys are retired); *retired (when not NULL) gets how many.
 */
int kp_pool_remove_device(struct kp_pool *p, const char *device,
    uint32_t *retired) KP_WUR;
/*
 * kp_pool_devices: our user's devices as the server lists them now,
 * kept in the store, into *list (malloc'd, caller frees) and *n.
 */
int kp_pool_devices(struct kp_pool *p, struct kp_device **list,
    size_t *n) KP_WUR;
/*
 * kp_pool_devices_cached: the last list kp_pool_devices (or a sync)
 * kept, with no call to the server; *at its time (0 and no devices:
 * never asked).
 */
int kp_pool_devices_cached(struct kp_pool *p, struct kp_device **list,
    size_t *n, int64_t *at) KP_WUR;

/*
 * kp_pool_welcome: open a Welcome (MLSMessage) for one of our keys, with
 * the ratchet tree of its GroupInfo's extension or else tree (treelen
 * bytes, a serialized ratchet tree; NULL when none: KP_ENOTREE without
 * either), as kp_welcome_open() does.  It is accepted only when the
 * server records a live reservation or a spend of the key (the server
 * is asked; when it cannot be reached, the last sync's view decides)
 * that named the Welcome's group_id: else KP_ENOTRESERVED or KP_EGROUP,
 * and nothing changes.  The key becomes spent with group_id and epoch;
 * *ref names it; *info is filled as kp_welcome_open() does.  Again for
 * the same group_id and epoch: a success that changes nothing; for a key
 * whose Welcome of another group or epoch was recorded: KP_EPERM,
 * nothing changed (a last-resort key records each new one).
 */
int kp_pool_welcome(struct kp_pool *p, const uint8_t *msg, size_t len,
    const uint8_t *tree, size_t treelen, uint8_t ref[KP_REF_LEN],
    struct kp_welcome_info *info) KP_WUR;
/*
 * kp_pool_set_group: the group (gid, len bytes; len 0: none) that the
 * owner's next spend of ref (kp_pool_transition to spent) names to the
 * server, so that the owner may open the Welcome of a group it made the
 * key join out of band.  KP_ENOTFOUND, KP_ESTATE unless available or
 * reserved, KP_ETOOBIG over KP_MAX_GROUP_ID.  kp_pool_group: that
 * group, *len 0 when none.
 */
int kp_pool_set_group(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    const uint8_t *gid, size_t len) KP_WUR;
int kp_pool_group(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    uint8_t gid[KP_MAX_GROUP_ID], size_t *len) KP_WUR;
/* kp_pool_take: hand a key's private keys to the caller and wipe them
 * from the store; KP_ENOTFOUND when already taken or wiped. */
int kp_pool_take(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    struct kp_kpsecrets *out) KP_WUR;

enum kp_health {
	KP_HEALTH_OK = 0,
	KP_HEALTH_LOW,		/* available < low watermark */
	KP_HEALTH_EMPTY,	/* nothing available */
	KP_HEALTH_OFFLINE,	/* no server, or it did not answer last */
};
/* kp_health_name: "ok", "low", "empty", "offline"; NULL for a bad one. */
const char *kp_health_name(int health);
struct kp_status {
	struct kp_counts counts;
	int	 health;		/* KP_HEALTH_* */
	int64_t	 last_sync;		/* 0: never */
	int	 enrolled;		/* 1 yes, 0 pending (an enrolled
					   device or the operator must
					   enroll it), -1 not asked yet */
};
/*
 * kp_pool_status: the counts, the health and the time of the last sync.
 * Health is offline when no server is set or when the last exchange
 * with it, by any handle on the store, got no answer (a refusal is an
 * answer); else empty, low or ok by the regular available keys.
 */
int kp_pool_status(struct kp_pool *p, struct kp_status *out) KP_WUR;

#ifdef __cplusplus
}
#endif

#endif /* KPOOL_H */
