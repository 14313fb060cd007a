/* SPDX-License-Identifier: ISC */
/*
 * remember.c: what a program keeps of its store beyond the pool: the
 * server it talks to, and a client of that server signed as the store's
 * device (for the inviter's side, kpool(1)).
 */
#include <pthread.h>
#include <string.h>

#include "kpool.h"
#include "pool.h"
#include "store.h"

#define SERVER_SETTING	"server"

/* kp_pool_remember_server: keep url as the store's server. */
int
kp_pool_remember_server(struct kp_pool *p, const char *url)
{
	int	rc;

	kp_pool_begin(p);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return kp_pool_end(p, kp_pool_err(p, KP_EINVAL,
		    "server URL must start with http:// or https://"));
	if (strlen(url) > KP_MAX_URL)
		return kp_pool_end(p, kp_pool_err(p, KP_ETOOBIG,
		    "server URL longer than %d bytes", KP_MAX_URL));
	kp_pool_lock(p);
	rc = kp_store_setting_set(p->st, SERVER_SETTING, url);
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}

/* kp_pool_remembered_server: the kept URL into buf, "" when none. */
int
kp_pool_remembered_server(struct kp_pool *p, char *buf, size_t len)
{
	char	v[KP_MAX_URL + 1];
	int	rc, found = 0;

	kp_pool_begin(p);
	kp_pool_lock_read(p);
	rc = kp_store_setting_get(p->st, SERVER_SETTING, v, sizeof(v), &found);
	kp_pool_unlock(p);
	if (rc != KP_OK)
		return kp_pool_end(p, rc);
	if (!found)
		v[0] = '\0';
	if (strlen(v) >= len)
		return kp_pool_end(p, kp_pool_err(p, KP_ETOOBIG,
		    "buffer too small for the server URL"));
	memcpy(buf, v, strlen(v) + 1);
	return kp_pool_end(p, KP_OK);
}

/* kp_pool_client: a new client of p's server signed as its device. */
int
kp_pool_client(struct kp_pool *p, struct kp_client **out)
{
	int	rc;

	kp_pool_begin(p);
	*out = NULL;
	pthread_mutex_lock(&p->nlock);
	if (p->url == NULL)
		rc = kp_pool_err(p, KP_ENET, "no server set (offline)");
	else if ((rc = kp_client_new(p->url, p->principal, p->seed,
	    out)) != KP_OK || (rc = kp_remote_tls(p, *out)) != KP_OK) {
		kp_client_free(*out);
		*out = NULL;
		rc = kp_pool_err(p, rc, "client for %s: %s", p->url,
		    kp_strerror(rc));
	}
	pthread_mutex_unlock(&p->nlock);
	return kp_pool_end(p, rc);
}
