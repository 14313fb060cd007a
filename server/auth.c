/* SPDX-License-Identifier: ISC */
/*
 * auth.c: check a request's RFC 9421 signature (lib/httpsig.c does the
 * profile) and refuse replays within this process.  A signature is
 * fresh while its created is from 300 s before now to KPS_SIG_SKEW
 * (60 s) after it.  Signatures are remembered as keyed 64-bit hashes of
 * (keyid, nonce, created), in slices of SLICE seconds by created; one is
 * only remembered until its created is 300 s old: a slice is dropped as
 * a whole once every created in it is (at most SLICE + 300 s after the
 * slice began).  This cache is the fast first check; the database
 * remembers every signature too (the writer, see kps_job.sig), which
 * refuses replays across restarts and, when instances share it, to
 * another instance.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kps.h"
#include "kpool-httpsig.h"

#define SLICE	30	/* seconds of created per slice */
/* live slices begin in (now - WINDOW - SLICE, now + SKEW]: 14 */
#define NSLICE	((KP_HTTPSIG_WINDOW + KPS_SIG_SKEW) / SLICE + 2)
_Static_assert(KPS_MAX_NONCE == KP_HTTPSIG_MAX_NONCE, "KPS_MAX_NONCE");

struct nset {
	uint64_t	*slot;		/* 0 is empty; NULL: slice unused */
	size_t		 cap, n;	/* cap a power of two */
	int64_t		 start;		/* created of the slice's start */
};

static const char	stale[] = "signature is stale: created is more than "
			    "300 s before the server's time";
static const char	future[] = "signature is from the future: created is "
			    "more than 60 s after the server's time";
static pthread_mutex_t	nlock = PTHREAD_MUTEX_INITIALIZER;
static struct nset	ring[NSLICE];	/* nlock */
static uint8_t		hkey[crypto_shorthash_KEYBYTES]; /* set by init */

int
kps_auth_init(void)
{
	if (sodium_init() < 0)
		return KP_ECRYPTO;
	randombytes_buf(hkey, sizeof(hkey));
	return KP_OK;
}

void
kps_auth_fini(void)
{
	size_t	i;

	for (i = 0; i < NSLICE; i++)
		free(ring[i].slot);
	memset(ring, 0, sizeof(ring));
}

/* is_stale: 1 when a signature created then is too old, 2 when it is
 * too far ahead, else 0. */
static int
is_stale(int64_t created, int64_t now)
{
	if (created < now - KP_HTTPSIG_WINDOW)
		return 1;
	return created > now + KPS_SIG_SKEW ? 2 : 0;
}

static void
nset_drop(struct nset *s)
{
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

static int
nset_has(const struct nset *s, uint64_t h)
{
	size_t	i;

	if (s->cap == 0)
		return 0;
	for (i = h & (s->cap - 1); s->slot[i] != 0; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == h)
			return 1;
	return 0;
}

static int
nset_add(struct nset *s, uint64_t h)
{
	uint64_t	*ns, *os = s->slot;
	size_t		 i, j, ocap = s->cap, ncap;

	if ((s->n + 1) * 2 > s->cap) {
		ncap = s->cap ? s->cap * 2 : 1024;
		if ((ns = calloc(ncap, sizeof(*ns))) == NULL)
			return -1;
		for (j = 0; j < ocap; j++) {
			if (os[j] == 0)
				continue;
			for (i = os[j] & (ncap - 1); ns[i] != 0;
			    i = (i + 1) & (ncap - 1))
				;
			ns[i] = os[j];
		}
		free(os);
		s->slot = ns;
		s->cap = ncap;
	}
	for (i = h & (s->cap - 1); s->slot[i] != 0; i = (i + 1) & (s->cap - 1))
		;
	s->slot[i] = h;
	s->n++;
	return 0;
}

/*
 * seen: 1 when the signature (keyid, nonce, created) was used before,
 * else remember it in the slice of created; 2 or 3 when created is
 * stale or ahead (is_stale() + 1) by the clock read under the lock.
 * The clock is read under the lock so that every caller drops slices
 * and checks by a time no older than the last one's: one read before
 * the lock could be older than a slice another request has just
 * filled at the window's future edge, and drop it.
 */
static int
seen(const char *keyid, const char *nonce, int64_t created)
{
	uint8_t		 in[KP_MAX_PRINCIPAL + KP_HTTPSIG_MAX_NONCE + 10];
	uint64_t	 h;
	size_t		 a = strlen(keyid), b = strlen(nonce), i;
	int64_t		 start, now;
	struct nset	*s;
	int		 r = 0;

	memcpy(in, keyid, a);
	in[a] = '\0';
	memcpy(in + a + 1, nonce, b);
	in[a + 1 + b] = '\0';
	memcpy(in + a + b + 2, &created, sizeof(created));
	crypto_shorthash((uint8_t *)&h, in, a + b + 2 + sizeof(created),
	    hkey);
	if (h == 0)
		h = 1;
	/* created is fresh, so positive: floor division is plain */
	start = created - created % SLICE;
	pthread_mutex_lock(&nlock);
	now = kps_real_now();
	if ((r = is_stale(created, now)) != 0) {
		pthread_mutex_unlock(&nlock);
		return r + 1;	/* went out of the window meanwhile */
	}
	for (i = 0; i < NSLICE; i++) {
		s = &ring[i];
		if (s->slot == NULL)
			continue;
		/*
		 * Every created in the slice is stale now; or, after the
		 * clock stepped back, every created in it is ahead of the
		 * window (such a slice is forgotten: a stepped clock is
		 * the one case where a replay may pass).
		 */
		if (s->start + SLICE + KP_HTTPSIG_WINDOW <= now ||
		    s->start > now + KPS_SIG_SKEW) {
			nset_drop(s);
			continue;
		}
		if (!r && nset_has(s, h))
			r = 1;
	}
	s = &ring[(size_t)(start / SLICE) % NSLICE];
	if (!r && s->slot != NULL && s->start != start)
		r = 1;		/* cannot happen: refuse, do not forget */
	if (!r) {
		s->start = start;
		if (nset_add(s, h) != 0)
			r = 1;	/* out of memory: refuse, do not forget */
	}
	pthread_mutex_unlock(&nlock);
	return r;
}

/* refuse: count a refusal for reason and say why; KP_EAUTH. */
static int
refuse(const char *reason, const char *msg, const char **why)
{
	kps_metric_reason("auth_refused", reason);
	*why = msg;
	return KP_EAUTH;
}

int
kps_auth(const struct kps_authreq *a, char user[KP_MAX_USERNAME + 1],
    char device[KP_MAX_DEVICE + 1], uint8_t *pk_out, struct kps_sig *sig,
    const char **why)
{
	struct kp_httpsig_params	 p;
	struct kps_store		*rd;
	uint8_t				 pk[32];
	char				 name[KP_MAX_USERNAME + 1];
	char				 u[KP_MAX_USERNAME + 1];
	char				 d[KP_MAX_DEVICE + 1];
	char				 who[KP_MAX_PRINCIPAL + 1];
	int				 rc;

	user[0] = '\0';
	device[0] = '\0';
	if (kp_httpsig_parse(a->sig_input, a->signature, &p, why) != KP_OK)
		return refuse("malformed", *why, why);
	switch (is_stale(p.created, kps_real_now())) {
	case 1:
		return refuse("stale", stale, why);
	case 2:
		return refuse("future", future, why);
	}
	/* keyid is a principal: "alice/default" is "alice" */
	if (kp_principal_parse(p.keyid, u, d) != KP_OK ||
	    kp_principal(u, d, who, sizeof(who)) != KP_OK)
		return refuse("malformed", "keyid is not a principal (USER or "
		    "USER/DEVICE)", why);
	if (a->expect_keyid != NULL && strcmp(a->expect_keyid, who) != 0)
		return refuse("malformed", "keyid is not the device being "
		    "registered", why);
	if (kp_httpsig_check_digest(a->digest, a->body, a->len, why) != KP_OK)
		return refuse("digest", *why, why);
	if (a->pk != NULL) {
		memcpy(pk, a->pk, sizeof(pk));
		memcpy(name, u, sizeof(name));
	} else {
		if ((rd = kps_reader()) == NULL) {
			*why = "database unavailable";
			return KP_EDB;
		}
		if ((rc = kps_device_get(rd, u, d, pk, name)) != KP_OK) {
			if (rc == KP_ENOTFOUND)
				return refuse("unknown_key", "unknown keyid: "
				    "no such user or device; register the "
				    "user (POST /users) or enroll the device "
				    "(POST /devices)", why);
			*why = "database error";
			return KP_EDB;
		}
	}
	if ((rc = kp_httpsig_verify(&p, a->method, a->path, a->query,
	    a->digest, pk, why)) != KP_OK) {
		if (rc == KP_ENOMEM)
			return KP_ENOMEM;
		return refuse("signature", *why, why);
	}
	if (kp_principal(name, d, who, sizeof(who)) != KP_OK)
		return refuse("malformed", "keyid is not a principal", why);
	kps_fold(sig->keyid, who);
	switch (seen(sig->keyid, p.nonce, p.created)) {
	case 1:
		return refuse("replay", "replayed signature: this nonce was "
		    "already used", why);
	case 2:
		return refuse("stale", stale, why);
	case 3:
		return refuse("future", future, why);
	}
	memcpy(user, name, sizeof(name));
	memcpy(device, d, sizeof(d));
	if (pk_out != NULL)
		memcpy(pk_out, pk, sizeof(pk));
	memcpy(sig->nonce, p.nonce, sizeof(sig->nonce));
	sig->created = p.created;
	memcpy(sig->pk, pk, sizeof(sig->pk));
	sig->keyed = a->pk == NULL;
	*why = NULL;
	return KP_OK;
}
