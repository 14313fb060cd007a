/* SPDX-License-Identifier: ISC */
/*
 * readers.c: the read connections.  Each request thread reads (status,
 * mine, signature keys, the counts of /metrics) through a connection of
 * its own, opened read-only on its first read and kept for the thread's
 * life; writes go through the writer alone (writer.c).
 */

#include <stdlib.h>

#include "kps.h"

static pthread_mutex_t	 rlock = PTHREAD_MUTEX_INITIALIZER;
static struct kps_store	**readers;		/* rlock */
static size_t		 nreaders;		/* rlock */
static __thread struct kps_store *my_reader;	/* this thread's */

struct kps_store *
kps_reader(void)
{
	struct kps_store_conf	  conf = { 0 };
	struct kps_store	 *s = NULL, **nr;

	if (my_reader != NULL)
		return my_reader;
	conf.burn = kps_conf.burn;
	conf.readonly = 1;
	if (kps_store_open(kps_conf.db, &conf, &s) != KP_OK) {
		kps_store_close(s);
		return NULL;
	}
	pthread_mutex_lock(&rlock);
	if ((nr = reallocarray(readers, nreaders + 1, sizeof(*nr))) == NULL) {
		pthread_mutex_unlock(&rlock);
		kps_store_close(s);
		return NULL;
	}
	readers = nr;
	readers[nreaders++] = s;
	pthread_mutex_unlock(&rlock);
	my_reader = s;
	return s;
}

void
kps_readers_close(void)
{
	size_t	i;

	pthread_mutex_lock(&rlock);
	for (i = 0; i < nreaders; i++)
		kps_store_close(readers[i]);
	free(readers);
	readers = NULL;
	nreaders = 0;
	pthread_mutex_unlock(&rlock);
}
