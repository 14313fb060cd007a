/* SPDX-License-Identifier: ISC */
/*
 * 2023-server-claim-race: 16 processes claim, all at once and again and
 * again, the keys of a user with 4 devices on a real kpool-server,
 * until the pool runs dry: no key is handed to two callers, no claim
 * gets two keys of one device, every key is handed out once, and the
 * claims after that are 409 pool_exhausted listing every device.
 */

#include <jansson.h>

#include "kps_test.h"

#define NCLAIMERS	16
#define NCLAIMS		10	/* each; 160 claims for 96 keys */
#define NDEV		4
#define PERDEV		24

static const char *const devname[NDEV] = { "default", "laptop", "phone",
    "tablet" };

/*
 * claimer: claim NCLAIMS times as w, writing one line per key handed
 * out ("CLAIM DEVICE REF") and one per refusal ("CLAIM - STATUS
 * EXHAUSTED") to path.
 */
static void
claimer(struct srv *s, struct who *w, const char *path)
{
	struct rawreply	 r;
	json_t		*j, *e;
	FILE		*f;
	size_t		 i;
	int		 c;

	if ((f = fopen(path, "w")) == NULL)
		_exit(1);
	for (c = 0; c < NCLAIMS; c++) {
		raw(s, w, "POST", "/keypackages/claim",
		    "{\"target_username\":\"alice\"}", T_NONE, &r);
		if (r.status != 200) {
			fprintf(f, "%d - %ld %s\n", c, r.status,
			    strstr(r.body, "\"exhausted\":[\"default\","
			    "\"laptop\",\"phone\",\"tablet\"]") ? "all" :
			    "?");
			continue;
		}
		if ((j = json_loads(r.body, 0, NULL)) == NULL)
			_exit(1);
		json_array_foreach(json_object_get(j, "keypackages"), i, e)
			fprintf(f, "%d %s %s\n", c, json_string_value(
			    json_object_get(e, "device")), json_string_value(
			    json_object_get(e, "keypackage_ref")));
		json_decref(j);
	}
	fclose(f);
	_exit(0);
}

int
main(void)
{
	const char *const	 opts[] = { "--rate-limit", "0", "--quiet",
				    NULL };
	struct srv		 s;
	struct who		 owner[NDEV], w[NCLAIMERS];
	struct rawreply		 r;
	static char		 refs[NCLAIMERS * NCLAIMS * NDEV][80];
	char			 path[256], line[256], dev[64], ref[80];
	char			 name[16], b[256];
	pid_t			 pid[NCLAIMERS];
	FILE			*f;
	int			 i, k, n = 0, dup = 0, twice = 0, bad = 0;
	int			 refused = 0, st, c, lastc, seen[NDEV];

	plan(9);
	srv_start(&s, opts);
	who_new(&s, &owner[0], "alice", 1);
	for (i = 1; i < NDEV; i++) {
		snprintf(name, sizeof(name), "alice/%s", devname[i]);
		dev_new(&owner[i], name);
		snprintf(b, sizeof(b), "{\"device\":\"%s\",\"public_key\":"
		    "\"%s\"}", devname[i], pk_b64(&owner[i]));
		raw(&s, &owner[0], "POST", "/devices", b, T_NONE, &r);
		if (r.status != 201)
			bail("enroll %s: %ld", devname[i], r.status);
	}
	for (i = k = 0; i < NDEV; i++)
		k += put(&s, &owner[i], PERDEV, 1, 0, NULL);
	is_int(k, NDEV * PERDEV, "alice's 4 devices upload 24 keys each");
	for (i = 0; i < NCLAIMERS; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		who_new(&s, &w[i], name, 1);
	}
	for (i = 0; i < NCLAIMERS; i++) {
		snprintf(path, sizeof(path), "%s/claims.%d", s.dir, i);
		if ((pid[i] = fork()) == -1)
			bail("fork");
		if (pid[i] == 0)
			claimer(&s, &w[i], path);
	}
	for (i = k = 0; i < NCLAIMERS; i++)
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			k++;
	is_int(k, 0, "16 claimers, 10 claims each, all done");
	for (i = 0; i < NCLAIMERS; i++) {
		snprintf(path, sizeof(path), "%s/claims.%d", s.dir, i);
		if ((f = fopen(path, "r")) == NULL)
			bail("%s", path);
		lastc = -1;
		memset(seen, 0, sizeof(seen));
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "%d %63s %79s", &c, dev, ref) != 3) {
				bad++;
				continue;
			}
			if (c != lastc)
				memset(seen, 0, sizeof(seen));
			lastc = c;
			if (strcmp(dev, "-") == 0) {
				if (strcmp(ref, "409") == 0 &&
				    strstr(line, " all") != NULL)
					refused++;
				else
					bad++;
				continue;
			}
			for (k = 0; k < NDEV; k++)
				if (strcmp(dev, devname[k]) == 0)
					break;
			if (k == NDEV) {
				bad++;
				continue;
			}
			if (seen[k]++)
				twice++;
			for (k = 0; k < n; k++)
				if (strcmp(refs[k], ref) == 0)
					dup++;
			if (n < (int)(sizeof(refs) / sizeof(refs[0])))
				snprintf(refs[n++], sizeof(refs[0]), "%s", ref);
		}
		fclose(f);
	}
	is_int(bad, 0, "every reply is a claim or a 409 listing the 4 "
	    "devices");
	is_int(dup, 0, "no key handed to two callers");
	is_int(twice, 0, "no claim with two keys of one device");
	is_int(n, NDEV * PERDEV, "every key handed out once: 96");
	is_int(refused, NCLAIMERS * NCLAIMS - NDEV * PERDEV / NDEV,
	    "the 136 claims after the 24th: 409 pool_exhausted");
	is_int((int)srv_count(&s, "SELECT count(*) FROM keypackages WHERE "
	    "status = 'reserved'"), NDEV * PERDEV,
	    "the database holds 96 reservations");
	is_int(srv_stop(&s), 0, "a clean exit");
	for (i = 0; i < NDEV; i++)
		who_free(&owner[i]);
	for (i = 0; i < NCLAIMERS; i++)
		who_free(&w[i]);
	return done_testing();
}
