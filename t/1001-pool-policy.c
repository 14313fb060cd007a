/* SPDX-License-Identifier: ISC */
/*
 * 1001-pool-policy: defaults, should_replenish, needed (target, hard
 * cap), the "key = value" settings with every bad input, and the policy
 * kept in the store across a reopen.
 */

#include "1-pooltest.h"

static struct kp_counts
counts(uint32_t cr, uint32_t av, uint32_t re, uint32_t sp, uint32_t ex)
{
	struct kp_counts	c;

	memset(&c, 0, sizeof(c));
	c.n[KP_STATE_CREATED] = cr;
	c.n[KP_STATE_AVAILABLE] = av;
	c.n[KP_STATE_RESERVED] = re;
	c.n[KP_STATE_SPENT] = sp;
	c.n[KP_STATE_EXPIRED] = ex;
	c.total = cr + av + re + sp + ex;
	return c;
}

static void
test_rules(void)
{
	struct kp_policy	p;
	struct kp_counts	c;

	kp_policy_default(&p);
	is_int(p.target, 32, "target 32");
	is_int(p.low_watermark, 8, "low watermark 8");
	is_int(p.hard_cap, 64, "hard cap 64");
	is_int(p.lifetime, 14 * 86400, "lifetime 14 days");
	is_int(p.refresh_interval, 30, "refresh every 30 s");
	ok(p.nsuites == 1 && p.suites[0] == KP_SUITE_X25519_AES128GCM,
	    "suites 0x0001");
	ok(p.ncredentials == 0 && p.nextensions == 0 && p.nproposals == 0,
	    "no capabilities beyond the implied ones");
	is_int(p.last_resort, 1, "last resort on");

	c = counts(0, 7, 0, 0, 0);
	is_int(kp_policy_should_replenish(&p, &c), 1, "7 available < 8");
	c = counts(0, 8, 0, 0, 0);
	is_int(kp_policy_should_replenish(&p, &c), 0, "8 available is enough");
	c = counts(0, 0, 40, 5, 5);
	is_int(kp_policy_should_replenish(&p, &c), 1,
	    "reserved keys do not count as available");

	c = counts(0, 1, 0, 0, 0);
	is_int(kp_policy_needed(&p, &c), 31, "1 available: 31 needed");
	c = counts(0, 4, 10, 100, 100);
	is_int(kp_policy_needed(&p, &c), 18,
	    "available + reserved reach target; spent, expired ignored");
	c = counts(0, 32, 0, 0, 0);
	is_int(kp_policy_needed(&p, &c), 0, "at target: none");
	c = counts(0, 20, 40, 0, 0);
	is_int(kp_policy_needed(&p, &c), 0, "past target: none");
	c = counts(60, 0, 0, 0, 0);
	is_int(kp_policy_needed(&p, &c), 4,
	    "created + available stop at the hard cap");
	c = counts(64, 0, 0, 0, 0);
	is_int(kp_policy_needed(&p, &c), 0, "at the hard cap: none");
	c = counts(70, 0, 0, 0, 0);
	is_int(kp_policy_needed(&p, &c), 0, "over the hard cap: none");

	is_string(kp_state_name(KP_STATE_RESERVED), "reserved", "state name");
	ok(kp_state_name(KP_NSTATES) == NULL, "no name for a bad state");
	is_int(kp_state_from_name("expired"), KP_STATE_EXPIRED,
	    "state from name");
	is_int(kp_state_from_name("Expired"), -1, "names are exact");
	is_string(kp_health_name(KP_HEALTH_OFFLINE), "offline", "health name");
	ok(kp_health_name(4) == NULL, "no name for a bad health");
}

static const char *const defaults_text =
	"target = 32\n"
	"low_watermark = 8\n"
	"hard_cap = 64\n"
	"lifetime = 1209600\n"
	"refresh_interval = 30\n"
	"suites = 0x0001\n"
	"last_resort = 1\n"
	"credentials = basic\n"
	"extensions = none\n"
	"proposals = none\n";

static void
test_config(void)
{
	struct kp_pool		*p;
	struct kp_policy	 pol;
	char			*text;
	static const struct {
		const char	*key, *value, *why;
	} bad[] = {
		{ "target", "0", "target 0" },
		{ "target", "-1", "negative target" },
		{ "target", "10001", "target over 10000" },
		{ "target", "65", "target over the hard cap" },
		{ "target", "32x", "trailing garbage" },
		{ "target", "", "empty value" },
		{ "target", "   ", "blank value" },
		{ "target", "0x20", "hex target" },
		{ "target", "99999999999999", "huge number" },
		{ "low_watermark", "33", "low watermark over target" },
		{ "hard_cap", "31", "hard cap under target" },
		{ "hard_cap", "10001", "hard cap over 10000" },
		{ "lifetime", "59", "lifetime under 60 s" },
		{ "lifetime", "90d", "lifetime over 89 days" },
		{ "lifetime", "14w", "unknown suffix" },
		{ "lifetime", "d", "suffix without a number" },
		{ "lifetime", "1dd", "two suffixes" },
		{ "lifetime", "1.5d", "a fraction" },
		{ "refresh_interval", "0", "refresh 0" },
		{ "refresh_interval", "2d", "refresh over a day" },
		{ "suite", "2", "suite 2" },
		{ "suite", "0x", "0x without digits" },
		{ "suite", "0x00001", "five hex digits" },
		{ "suite", "0xg", "bad hex" },
		{ "last_resort", "2", "last_resort 2" },
		{ "last_resort", "maybe", "last_resort maybe" },
		{ "colour", "blue", "unknown key" },
		{ "Target", "32", "keys are exact" },
	};
	size_t			 i;
	int			 rc;

	if (kp_pool_open(pt_file("c.db"), NULL, "alice", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	is_int(kp_pool_config_text(p, &text), KP_OK, "config text");
	is_string(text, defaults_text, "the defaults, one per line");
	free(text);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = kp_pool_config_set(p, bad[i].key, bad[i].value);
		is_int(rc, KP_EINVAL, "%s: KP_EINVAL (%s)", bad[i].why,
		    kp_errmsg(p));
	}
	is_int(kp_pool_config_set(p, NULL, "1"), KP_EINVAL,
	    "no key: KP_EINVAL");
	is_int(kp_pool_config_set(p, "target", NULL), KP_EINVAL,
	    "no value: KP_EINVAL");
	is_int(kp_pool_config_text(p, &text), KP_OK, "config text");
	is_string(text, defaults_text, "bad settings changed nothing");
	free(text);

	is_int(kp_pool_config_set(p, "hard_cap", "200"), KP_OK, "hard_cap 200");
	is_int(kp_pool_config_set(p, "target", " 100\n"), KP_OK,
	    "target 100, blanks and newline ignored");
	is_int(kp_pool_config_set(p, "low_watermark", "25"), KP_OK,
	    "low_watermark 25");
	is_int(kp_pool_config_set(p, "lifetime", "7d"), KP_OK, "lifetime 7d");
	is_int(kp_pool_config_set(p, "refresh_interval", "2m"), KP_OK,
	    "refresh_interval 2m");
	is_int(kp_pool_config_set(p, "suite", "0x0003"), KP_OK, "suite 0x0003");
	is_int(kp_pool_config_set(p, "last_resort", "off"), KP_OK,
	    "last_resort off");
	kp_pool_close(p);

	if (kp_pool_open(pt_file("c.db"), NULL, NULL, NULL, &p) != KP_OK)
		bail("reopen: %s", kp_errmsg(p));
	is_int(kp_pool_config_text(p, &text), KP_OK, "config after reopen");
	is_string(text, "target = 100\nlow_watermark = 25\nhard_cap = 200\n"
	    "lifetime = 604800\nrefresh_interval = 120\nsuites = 0x0003\n"
	    "last_resort = 0\ncredentials = basic\nextensions = none\n"
	    "proposals = none\n", "kept in the store");
	free(text);
	is_int(kp_pool_policy_get(p, &pol), KP_OK, "policy get");
	is_int(pol.lifetime, 7 * 86400, "lifetime in seconds");
	pol.low_watermark = 101;
	is_int(kp_pool_policy_set(p, &pol), KP_EINVAL,
	    "policy_set refuses an inconsistent policy");
	kp_policy_default(&pol);
	is_int(kp_pool_policy_set(p, &pol), KP_OK, "policy_set the defaults");
	is_int(kp_pool_config_set(p, "suite", "3"), KP_OK, "suite 3 in decimal");
	is_int(kp_pool_config_set(p, "lifetime", "3600s"), KP_OK,
	    "lifetime 3600s");
	is_int(kp_pool_config_set(p, "lifetime", "89d"), KP_OK,
	    "lifetime 89d");
	is_int(kp_pool_config_text(p, &text), KP_OK, "config text");
	is_string(text, "target = 32\nlow_watermark = 8\nhard_cap = 64\n"
	    "lifetime = 7689600\nrefresh_interval = 30\nsuites = 0x0003\n"
	    "last_resort = 1\ncredentials = basic\nextensions = none\n"
	    "proposals = none\n", "defaults back, then suite and lifetime");
	free(text);
	kp_pool_close(p);
}

int
main(void)
{
	pt_init();
	test_rules();
	test_config();
	return done_testing();
}
