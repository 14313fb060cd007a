/* SPDX-License-Identifier: ISC */
/*
 * devices.c: the pool's calls on its user's devices: enroll another
 * device, remove one, and list them (the list kept in the store for
 * when the server is away).  Each asks the server with the net lock
 * held (pool.h) and takes the store lock only around the store work.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpool.h"
#include "pool.h"
#include "store.h"

/* kp_pool_enroll: enroll device of our user with its key pub. */
int
kp_pool_enroll(struct kp_pool *p, const char *device,
    const uint8_t pub[KP_SIGN_PK_LEN])
{
	int	rc;

	kp_pool_begin(p);
	if (!kp_devicename_valid(device))
		return kp_pool_end(p, kp_pool_err(p, KP_EINVAL, "bad device "
		    "name: 1 to %d of a-z 0-9, and . _ - after the first",
		    KP_MAX_DEVICE));
	pthread_mutex_lock(&p->nlock);
	if ((rc = kp_remote_need(p)) == KP_OK) {
		rc = kp_client_enroll(p->client, device, pub);
		rc = kp_remote_result(p, rc, "enroll");
	}
	pthread_mutex_unlock(&p->nlock);
	return kp_pool_end(p, rc);
}

/* kp_pool_remove_device: remove device of our user, its keys retired. */
int
kp_pool_remove_device(struct kp_pool *p, const char *device,
    uint32_t *retired)
{
	int	rc;

	kp_pool_begin(p);
	if (retired != NULL)
		*retired = 0;
	if (!kp_devicename_valid(device))
		return kp_pool_end(p, kp_pool_err(p, KP_EINVAL, "bad device "
		    "name"));
	pthread_mutex_lock(&p->nlock);
	if ((rc = kp_remote_need(p)) == KP_OK) {
		rc = kp_client_remove_device(p->client, device, retired);
		rc = kp_remote_result(p, rc, "remove");
	}
	pthread_mutex_unlock(&p->nlock);
	return kp_pool_end(p, rc);
}

/* Keep the list d (n devices) and its time in the store.  slock. */
static int
keep(struct kp_pool *p, const struct kp_device *d, size_t n)
{
	char	v[32];
	int	rc;

	(void)snprintf(v, sizeof(v), "%lld", (long long)kp_pool_now(p));
	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_store_devices_put(p->st, d, n)) != KP_OK ||
	    (rc = kp_store_setting_set(p->st, "devices_at", v)) != KP_OK) {
		kp_store_rollback(p->st);
		return rc;
	}
	return kp_store_commit(p->st);
}

/* kp_pool_devices: the user's devices as the server lists them now. */
int
kp_pool_devices(struct kp_pool *p, struct kp_device **list, size_t *n)
{
	int	rc;

	kp_pool_begin(p);
	*list = NULL;
	*n = 0;
	pthread_mutex_lock(&p->nlock);
	if ((rc = kp_remote_need(p)) == KP_OK) {
		rc = kp_client_devices(p->client, list, n);
		rc = kp_remote_result(p, rc, "devices");
	}
	pthread_mutex_unlock(&p->nlock);
	if (rc == KP_OK) {
		kp_pool_lock(p);
		rc = keep(p, *list, *n);
		kp_pool_unlock(p);
	}
	if (rc != KP_OK) {
		free(*list);
		*list = NULL;
		*n = 0;
	}
	return kp_pool_end(p, rc);
}

/* kp_pool_devices_cached: the last list kept, and when (0: never). */
int
kp_pool_devices_cached(struct kp_pool *p, struct kp_device **list,
    size_t *n, int64_t *at)
{
	char	v[32];
	int	rc, found = 0;

	kp_pool_begin(p);
	*at = 0;
	kp_pool_lock_read(p);
	if ((rc = kp_store_devices_get(p->st, list, n)) == KP_OK &&
	    (rc = kp_store_setting_get(p->st, "devices_at", v, sizeof(v),
	    &found)) == KP_OK && found)
		*at = strtoll(v, NULL, 10);
	kp_pool_unlock(p);
	if (rc != KP_OK) {
		free(*list);
		*list = NULL;
		*n = 0;
	}
	return kp_pool_end(p, rc);
}
