/* SPDX-License-Identifier: ISC */
/*
 * 1014-pool-welcome-again: a key joins one group once.  ts-mls
 * (t/interop/make-welcome.mjs) makes several Welcomes for one key of the
 * pool: once the first is opened, the same Welcome again, and another
 * one for the same group and epoch, succeed and change nothing; a
 * Welcome for another group, or for the same group at another epoch, is
 * KP_EPERM and changes nothing (group_id, epoch, spent_at, the private
 * keys), but for another group the server's record refuses it first
 * (KP_EGROUP).  A last-resort key, which may serve several groups, opens
 * the Welcome of each group it was handed out for, one after the other,
 * and records the latest.  An inviter's reservation on a real
 * kpool-server authorizes the Welcomes.  Needs node >= 20.19 and t/interop's
 * node_modules, as make check installs them: without them it bails.
 */

#include <sodium.h>

#include "1-pooltest.h"

static const char	*url;

/* The only key of state st (lr: the last-resort one) to kpfile. */
static void
key_out(struct kp_pool *p, int lr, const char *kpfile, uint8_t ref[KP_REF_LEN])
{
	struct kp_key	**keys;
	uint8_t		*buf;
	size_t		 n, i, len;
	FILE		*f;

	if (kp_pool_list(p, KP_STATE_CREATED, &keys, &n) != KP_OK)
		bail("list: %s", kp_errmsg(p));
	for (i = 0; i < n && kp_key_last_resort(keys[i]) != lr; i++)
		;
	if (i == n)
		bail("no key");
	memcpy(ref, kp_key_ref(keys[i]), KP_REF_LEN);
	kp_keys_free(keys, n);
	if (kp_pool_keypackage(p, ref, &buf, &len) != KP_OK)
		bail("keypackage: %s", kp_errmsg(p));
	if ((f = fopen(kpfile, "wb")) == NULL || fwrite(buf, 1, len, f) !=
	    len || fclose(f) == EOF)
		bail("write %s", kpfile);
	free(buf);
}

/* A Welcome of ts-mls for kpfile into group gid after epochs commits. */
static uint8_t *
welcome(const char *kpfile, const char *gid, int epochs, const char *out,
    size_t *len)
{
	char	cmd[2048];

	(void)snprintf(cmd, sizeof(cmd), "cd '%s' && node make-welcome.mjs "
	    "--kp '%s' --welcome-out '%s' --group-id %s --epochs %d "
	    ">/dev/null 2>>'%s'", tap_path("t/interop"), kpfile, out, gid,
	    epochs, pt_file("node.err"));
	if (system(cmd) != 0)
		bail("make-welcome failed (see %s)", pt_file("node.err"));
	return (uint8_t *)tap_slurp(out, len);
}

/*
 * Publish p's keys and have an inviter reserve the key ref for the
 * one-byte group gid, which authorizes its Welcomes.
 */
static void
publish(struct kp_pool *p, const char *gid, const uint8_t ref[KP_REF_LEN])
{
	struct kp_client	*c;
	uint8_t			 got[KP_REF_LEN];

	if (kp_pool_sync(p, NULL) != KP_OK)
		bail("sync: %s", kp_errmsg(p));
	c = pt_inviter(url, gid[0] == '\xa1' ? "bob" : gid[0] == '\xc3' ?
	    "carol" : "dave");
	pt_reserve(c, "wanda", gid, 1, got);
	if (memcmp(got, ref, KP_REF_LEN) != 0)
		bail("the server handed out another key");
	kp_client_free(c);
}

/* a and b agree on what a Welcome and take may change. */
static int
same_key(const struct kp_key *a, const struct kp_key *b)
{
	const uint8_t	*ga, *gb;
	size_t		 la, lb;

	ga = kp_key_group_id(a, &la);
	gb = kp_key_group_id(b, &lb);
	return kp_key_state(a) == kp_key_state(b) &&
	    kp_key_time(a, KP_T_SPENT) == kp_key_time(b, KP_T_SPENT) &&
	    kp_key_time(a, KP_T_CHANGED) == kp_key_time(b, KP_T_CHANGED) &&
	    kp_key_epoch(a) == kp_key_epoch(b) && la == lb &&
	    memcmp(ga, gb, la) == 0 &&
	    kp_key_has_private(a) == kp_key_has_private(b);
}

static void
test_regular(struct kp_pool *p)
{
	struct kp_welcome_info	 info;
	struct kp_key		*k = NULL, *k2 = NULL;
	const uint8_t		*g;
	size_t			 gl;
	struct kp_kpsecrets	 sec;
	uint8_t			 ref[KP_REF_LEN], got[KP_REF_LEN], *w[4];
	size_t			 wl[4];
	int			 i;

	if (kp_pool_generate(p, 1, 0) != KP_OK)
		bail("generate: %s", kp_errmsg(p));
	key_out(p, 0, pt_file("kp"), ref);
	publish(p, "\xa1", ref);
	w[0] = welcome(pt_file("kp"), "a1", 0, pt_file("w0"), &wl[0]);
	w[1] = welcome(pt_file("kp"), "a1", 0, pt_file("w1"), &wl[1]);
	w[2] = welcome(pt_file("kp"), "b2", 0, pt_file("w2"), &wl[2]);
	w[3] = welcome(pt_file("kp"), "a1", 1, pt_file("w3"), &wl[3]);
	ok(wl[0] != wl[1] || memcmp(w[0], w[1], wl[0]) != 0,
	    "two Welcomes of group a1 at epoch 1, not the same bytes");

	is_int(kp_pool_welcome(p, w[0], wl[0], NULL, 0, got, &info), KP_OK,
	    "the first Welcome opens (%s)", kp_errmsg(p));
	is_blob(got, KP_REF_LEN, ref, KP_REF_LEN, "for our key");
	kp_welcome_info_free(&info);
	pt_get(p, ref, &k);
	is_int(kp_key_state(k), KP_STATE_SPENT, "spent");
	g = kp_key_group_id(k, &gl);
	is_blob(g, gl, "\xa1", 1, "group a1");
	is_int(kp_key_epoch(k), 1, "epoch 1");

	pt_clock += 60;
	for (i = 0; i < 2; i++) {
		memset(got, 0, sizeof(got));
		is_int(kp_pool_welcome(p, w[i], wl[i], NULL, 0, got, &info),
		    KP_OK,
		    "%s for the same group and epoch: KP_OK", i == 0 ?
		    "the same Welcome again" : "another Welcome");
		is_blob(got, KP_REF_LEN, ref, KP_REF_LEN, "names our key");
		is_blob(info.group_id, info.group_id_len, "\xa1", 1,
		    "and group a1");
		is_int(info.epoch, 1, "at epoch 1");
		kp_welcome_info_free(&info);
		pt_get(p, ref, &k2);
		ok(same_key(k, k2),
		    "the key is unchanged (spent_at, changed_at too)");
	}
	for (i = 2; i < 4; i++) {
		/* the server's record refuses another group first */
		is_int(kp_pool_welcome(p, w[i], wl[i], NULL, 0, got, &info),
		    i == 2 ? KP_EGROUP : KP_EPERM, "a Welcome for %s: %s",
		    i == 2 ? "another group" :
		    "the same group at another epoch", i == 2 ? "KP_EGROUP" :
		    "KP_EPERM");
		ok(strstr(kp_errmsg(p), i == 2 ? "another group" :
		    "already joined") != NULL,
		    "the message says why: %s", kp_errmsg(p));
		ok(info.group_id == NULL && info.epoch == 0,
		    "nothing is filled in");
		pt_get(p, ref, &k2);
		ok(same_key(k, k2), "the key is unchanged: "
		    "group a1, epoch %lld, private keys kept",
		    (long long)kp_key_epoch(k2));
	}
	is_int(kp_pool_take(p, ref, &sec), KP_OK, "take still works");
	sodium_memzero(&sec, sizeof(sec));
	for (i = 0; i < 4; i++)
		free(w[i]);
	kp_key_free(k);
	kp_key_free(k2);
}

static void
test_last_resort(struct kp_pool *p)
{
	struct kp_welcome_info	 info;
	struct kp_key		*k = NULL;
	const uint8_t		*g;
	size_t			 gl;
	uint8_t			 ref[KP_REF_LEN], got[KP_REF_LEN], *w[2];
	size_t			 wl[2];

	if (kp_pool_generate(p, 1, 1) != KP_OK)
		bail("generate: %s", kp_errmsg(p));
	key_out(p, 1, pt_file("lr"), ref);
	w[0] = welcome(pt_file("lr"), "c3", 0, pt_file("l0"), &wl[0]);
	w[1] = welcome(pt_file("lr"), "d4", 2, pt_file("l1"), &wl[1]);
	/* each handing out of the key records its group, the latest */
	publish(p, "\xc3", ref);
	is_int(kp_pool_welcome(p, w[0], wl[0], NULL, 0, got, &info), KP_OK,
	    "the last-resort key opens a Welcome of group c3 (%s)",
	    kp_errmsg(p));
	kp_welcome_info_free(&info);
	publish(p, "\xd4", ref);
	is_int(kp_pool_welcome(p, w[1], wl[1], NULL, 0, got, &info), KP_OK,
	    "and then one of group d4 (%s)", kp_errmsg(p));
	kp_welcome_info_free(&info);
	pt_get(p, ref, &k);
	is_int(kp_key_state(k), KP_STATE_AVAILABLE, "it keeps its state");
	g = kp_key_group_id(k, &gl);
	is_blob(g, gl, "\xd4", 1, "group d4 recorded");
	is_int(kp_key_epoch(k), 3, "at epoch 3");
	free(w[0]);
	free(w[1]);
	kp_key_free(k);
}

int
main(void)
{
	struct kp_pool	*p;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_need_node();
	pt_init();
	url = pt_server(0);
	if (kp_pool_open(pt_file("w.db"), NULL, "wanda", NULL, &p) != KP_OK ||
	    kp_pool_set_server(p, url) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	pt_clock = (int64_t)time(NULL);	/* ts-mls checks lifetimes */
	kp_pool_set_clock(p, pt_now, NULL);
	test_regular(p);
	test_last_resort(p);
	kp_pool_close(p);
	return done_testing();
}
