/* SPDX-License-Identifier: ISC */
/*
 * contacts.c: the endpoints of a user's contacts (docs/api.md), the
 * users it vouches for, whom the drain budget does not hold back when
 * they reserve its keys (docs/security.md, "Draining"): POST /contacts
 * vouches for a user, DELETE /contacts/{user} takes the vouch back,
 * GET /contacts lists them.  The route table is routes.c's.
 */

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "request.h"

/* contact_job: run a vouch (add) or its end for user in the writer,
 * with the request's signature; its result. */
static int
contact_job(struct kps_req *x, const char *user, int add)
{
	struct kps_job	j;

	kps_req_job(x, &j, add ? KPS_JOB_CONTACT_ADD :
	    KPS_JOB_CONTACT_REMOVE);
	j.caller = x->user;
	j.device = user;	/* the contact */
	kps_writer_run(&j);
	return j.rc;
}

/* POST /contacts {"username"}: the caller's user vouches for username */
void
kps_contact_add_route(struct kps_req *x, const char *arg)
{
	const char	*name;
	char		 canon[KP_MAX_USERNAME + 1];
	int		 rc;

	if (kps_req_auth(x, NULL, NULL) != 0 || kps_req_body(x) != 0 ||
	    kps_req_name(x, "username", 1, 0, &name) != 0 ||
	    kps_req_user(x, name, canon) != 0)
		return;
	switch ((rc = contact_job(x, canon, 1))) {
	case KP_OK:
		kps_reply_json(x->r, 200, json_pack("{s:s, s:s}", "username",
		    x->user, "contact", canon));
		break;
	case KP_ETOOBIG:
		kps_error(x->r, 409, "too_many_contacts", "%s vouches for "
		    "%d users, the most; take a vouch back first", x->user,
		    KPS_MAX_CONTACTS);
		break;
	default:
		kps_reply_dberr(x->r, rc);
		break;
	}
}

/* DELETE /contacts/{username}: the caller's vouch goes */
void
kps_contact_remove_route(struct kps_req *x, const char *name)
{
	int	rc;

	if (kps_req_auth(x, NULL, NULL) != 0)
		return;
	if (!kp_username_valid(name)) {
		kps_error(x->r, 400, "bad_username", "not a user name");
		return;
	}
	switch ((rc = contact_job(x, name, 0))) {
	case KP_OK:
		kps_reply_json(x->r, 200, json_pack("{s:s, s:s}", "username",
		    x->user, "removed", name));
		break;
	case KP_ENOTFOUND:
		kps_error(x->r, 404, "not_found", "%s does not vouch for %s",
		    x->user, name);
		break;
	default:
		kps_reply_dberr(x->r, rc);
		break;
	}
}

/* GET /contacts: the users the caller's user vouches for (folded) */
void
kps_contacts(struct kps_req *x, const char *arg)
{
	static __thread char	 v[KPS_MAX_CONTACTS][KP_MAX_USERNAME + 1];
	struct kps_store	*rd;
	char			 me[KP_MAX_PRINCIPAL + 1];
	json_t			*arr;
	size_t			 n, i;
	int			 rc;

	if (kps_req_auth(x, NULL, NULL) != 0)
		return;
	if ((rd = kps_reader()) == NULL) {
		kps_reply_dberr(x->r, KP_EDB);
		return;
	}
	kps_fold(me, x->user);
	if ((rc = kps_contact_list(rd, me, v, KPS_MAX_CONTACTS, &n)) !=
	    KP_OK) {
		kps_reply_dberr(x->r, rc);
		return;
	}
	if ((arr = json_array()) == NULL) {
		kps_reply_dberr(x->r, KP_ENOMEM);
		return;
	}
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	kps_reply_json(x->r, 200, json_pack("{s:s, s:o}", "username",
	    x->user, "contacts", arr));
}
