/* SPDX-License-Identifier: ISC */
/*
 * auth.c: check a request's RFC 9421 signature (lib/httpsig.c does the
 * profile) and refuse replays.  Nonces are remembered as keyed 64-bit
 * hashes in two generations of 600 s each: a signature is fresh for
 * 300 s either side of now, so a nonce only needs remembering for 600 s.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kps.h"
#include "httpsig.h"

#define GENERATION	(2 * KP_HTTPSIG_WINDOW)

struct nset {
	uint64_t	*slot;		/* 0 is empty */
	size_t		 cap, n;	/* cap a power of two */
};

static pthread_mutex_t	nlock = PTHREAD_MUTEX_INITIALIZER;
static struct nset	cur, prev;	/* nlock */
static int64_t		cur_start;	/* nlock */
static uint8_t		hkey[crypto_shorthash_KEYBYTES];

int
kps_auth_init(void)
{
	if (sodium_init() < 0)
		return KP_ECRYPTO;
	randombytes_buf(hkey, sizeof(hkey));
	cur_start = kps_real_now();
	return KP_OK;
}

void
kps_auth_fini(void)
{
	free(cur.slot);
	free(prev.slot);
	memset(&cur, 0, sizeof(cur));
	memset(&prev, 0, sizeof(prev));
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

/* seen: 1 when (keyid, nonce) was used before, else remember it. */
static int
seen(const char *keyid, const char *nonce)
{
	uint8_t		 in[KP_MAX_USERNAME + KP_HTTPSIG_MAX_NONCE + 2];
	uint64_t	 h;
	size_t		 a = strlen(keyid), b = strlen(nonce);
	int64_t		 now = kps_real_now();
	int		 r;

	memcpy(in, keyid, a);
	in[a] = '\0';
	memcpy(in + a + 1, nonce, b);
	crypto_shorthash((uint8_t *)&h, in, a + 1 + b, hkey);
	if (h == 0)
		h = 1;
	pthread_mutex_lock(&nlock);
	if (now - cur_start >= GENERATION || now < cur_start) {
		free(prev.slot);
		prev = cur;
		memset(&cur, 0, sizeof(cur));
		cur_start = now;
	}
	r = nset_has(&cur, h) || nset_has(&prev, h);
	if (!r && nset_add(&cur, h) != 0)
		r = 1;		/* out of memory: refuse, do not forget */
	pthread_mutex_unlock(&nlock);
	return r;
}

int
kps_auth(const struct kps_authreq *a, char user[KP_MAX_USERNAME + 1],
    uint8_t *pk_out, const char **why)
{
	struct kp_httpsig_params	 p;
	struct kps_store		*rd;
	uint8_t				 pk[32];
	int64_t				 now;
	int				 rc;

	user[0] = '\0';
	if ((rc = kp_httpsig_parse(a->sig_input, a->signature, &p,
	    why)) != KP_OK)
		return KP_EAUTH;
	now = kps_real_now();
	if (p.created > now + KP_HTTPSIG_WINDOW ||
	    p.created < now - KP_HTTPSIG_WINDOW) {
		*why = "signature is stale: created is more than 300 s "
		    "from the server's time";
		return KP_EAUTH;
	}
	if (a->expect_keyid != NULL && strcmp(a->expect_keyid, p.keyid)) {
		*why = "keyid is not the user being registered";
		return KP_EAUTH;
	}
	if ((rc = kp_httpsig_check_digest(a->digest, a->body, a->len,
	    why)) != KP_OK)
		return KP_EAUTH;
	if (a->pk != NULL)
		memcpy(pk, a->pk, sizeof(pk));
	else {
		if ((rd = kps_reader()) == NULL) {
			*why = "database unavailable";
			return KP_EDB;
		}
		if ((rc = kps_user_get(rd, p.keyid, pk)) != KP_OK) {
			*why = rc == KP_ENOTFOUND ? "unknown keyid: "
			    "register the user first (POST /users)" :
			    "database error";
			return rc == KP_ENOTFOUND ? KP_EAUTH : KP_EDB;
		}
	}
	if ((rc = kp_httpsig_verify(&p, a->method, a->path, a->query,
	    a->digest, pk, why)) != KP_OK)
		return rc == KP_ENOMEM ? KP_ENOMEM : KP_EAUTH;
	if (seen(p.keyid, p.nonce)) {
		*why = "replayed signature: this nonce was already used";
		return KP_EAUTH;
	}
	memcpy(user, p.keyid, strlen(p.keyid) + 1);
	if (pk_out != NULL)
		memcpy(pk_out, pk, sizeof(pk));
	*why = NULL;
	return KP_OK;
}
